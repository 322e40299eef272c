namespace AedDeploy;

/// <summary>
/// What every phase result carries besides its own facts: the session and the app it concerns, so that the
/// next phase cmdlet takes them from the pipeline by property name.
/// </summary>
public abstract class PhaseResult
{
    protected PhaseResult(DeploySession session, AppTarget target)
    {
        Session = session;
        HostName = session.HostName;
        AppName = target.AppName;
        AppPath = target.AppPath;
        Layout = target.Layout;
    }

    public DeploySession Session { get; }

    public string HostName { get; }

    public string AppName { get; }

    public string AppPath { get; }

    public DeployLayout Layout { get; }

    public TimeSpan Duration { get; init; }
}

/// <summary>The build that a deploy can go back to: a copy of <c>.next</c> (InPlace) or the live release (Release).</summary>
public sealed class BuildBackup : PhaseResult
{
    public BuildBackup(DeploySession session, AppTarget target) : base(session, target)
    {
    }

    /// <summary>The release kept as the rollback target (Release layout).</summary>
    public string? ReleaseId { get; init; }

    /// <summary>Where the backed-up build is: <c>.next.backup</c> (InPlace) or the release folder.</summary>
    public string BackupPath { get; init; } = string.Empty;

    public string Commit { get; init; } = string.Empty;

    public string BuildId { get; init; } = string.Empty;

    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.Now;
}

/// <summary>A built checkout of a ref: a new release (Release) or the checkout itself (InPlace).</summary>
public sealed class BuildResult : PhaseResult
{
    public BuildResult(DeploySession session, AppTarget target) : base(session, target)
    {
    }

    /// <summary>The new release's id (Release layout).</summary>
    public string? ReleaseId { get; init; }

    /// <summary>The folder that was built; Test-BuildArtifact takes it as -Path.</summary>
    public string ReleasePath { get; init; } = string.Empty;

    public string Ref { get; init; } = string.Empty;

    public string Commit { get; init; } = string.Empty;

    public string BuildId { get; init; } = string.Empty;

    /// <summary>How dependencies were installed: ci, install (seeded from the live release) or skipped.</summary>
    public string InstallMode { get; init; } = string.Empty;

    /// <summary>The release that was live when the build started (Release layout).</summary>
    public string? PreviousReleaseId { get; init; }
}

/// <summary>One check of a build's completeness.</summary>
public sealed record ArtifactCheck(string Name, bool Passed, string Detail);

/// <summary>Whether a build is complete enough for <c>next start</c>, check by check.</summary>
public sealed class ArtifactReport : PhaseResult
{
    public ArtifactReport(DeploySession session, AppTarget target) : base(session, target)
    {
    }

    public string? ReleaseId { get; init; }

    /// <summary>The folder whose <c>.next</c> was checked.</summary>
    public string ReleasePath { get; init; } = string.Empty;

    public string BuildId { get; init; } = string.Empty;

    public IReadOnlyList<ArtifactCheck> Checks { get; init; } = [];

    public bool IsComplete => Checks.Count > 0 && Checks.All(c => c.Passed);

    public IEnumerable<ArtifactCheck> Failures => Checks.Where(c => !c.Passed);
}
