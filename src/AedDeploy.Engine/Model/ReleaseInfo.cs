namespace AedDeploy;

/// <summary>Where a release is in its life.</summary>
public enum ReleaseStatus
{
    /// <summary>Made by hand or before AedDeploy managed the app: no record.</summary>
    Unknown,
    Building,
    Built,
    /// <summary>Was live and proved healthy.</summary>
    Verified,
    /// <summary>Failed to build, to validate, or to prove healthy, or abandoned by a deploy that died; kept for inspection.</summary>
    Failed,
    /// <summary>Its deploy was stopped (Ctrl+C); kept for inspection.</summary>
    Cancelled,
}

/// <summary>One release of a Release-layout app (Get-Release, Switch-Release).</summary>
public sealed class ReleaseInfo : PhaseResult
{
    public ReleaseInfo(DeploySession session, AppTarget target) : base(session, target)
    {
    }

    public string Id { get; init; } = string.Empty;

    /// <summary>The same as <see cref="Id"/>, so that the next phase takes it from the pipeline.</summary>
    public string ReleaseId => Id;

    public string Path { get; init; } = string.Empty;

    public ReleaseStatus Status { get; init; }

    public bool IsLive { get; init; }

    /// <summary>The release a rollback goes back to: the last one verified healthy.</summary>
    public bool IsRollbackTarget { get; init; }

    public string Commit { get; init; } = string.Empty;

    public string? Ref { get; init; }

    public string BuildId { get; init; } = string.Empty;

    public DateTimeOffset? CreatedAt { get; init; }

    public DateTimeOffset? VerifiedAt { get; init; }

    /// <summary>Why the release failed or was cancelled, when it was.</summary>
    public string? Reason { get; init; }
}

/// <summary>What AedDeploy writes about a release in <c>.aeddeploy/releases/&lt;id&gt;.json</c>.</summary>
public sealed record ReleaseRecord(
    string Id, string? Ref, string Commit, string BuildId, ReleaseStatus Status, DateTimeOffset CreatedAt, DateTimeOffset? VerifiedAt, string? Reason);
