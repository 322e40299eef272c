namespace AedDeploy;

/// <summary>How a deploy ended.</summary>
public enum DeploymentOutcome
{
    /// <summary>The new version is live and proven healthy.</summary>
    Succeeded,

    /// <summary>Something failed after the live state changed; the last healthy version is serving again.</summary>
    RolledBack,

    /// <summary>The deploy stopped; see the reason. Before the live state changed, nothing live was touched.</summary>
    Failed,
}

/// <summary>What a history entry records.</summary>
public enum HistoryKind
{
    Deploy,
    Rollback,
    Unlock,

    /// <summary>Repair-DeployTarget brought the target back to a consistent state.</summary>
    Repair,

    /// <summary>A deploy took over the lock of a deploy that had stopped renewing it.</summary>
    TakeOver,
}

/// <summary>One phase of a deploy: how long it took and how it went.</summary>
public sealed record PhaseRecord(string Name, string Outcome, TimeSpan Duration, string? Detail);

/// <summary>
/// The record of one deploy (Invoke-ZeroDowntimeDeploy) or other history entry (Get-DeployHistory): from what
/// to what, the outcome and why, and every phase with its duration. Holds no secrets: it is written to history.
/// </summary>
public sealed class DeploymentRecord
{
    public string Id { get; init; } = string.Empty;

    public HistoryKind Kind { get; init; } = HistoryKind.Deploy;

    public string HostName { get; init; } = string.Empty;

    public string AppName { get; init; } = string.Empty;

    public string AppPath { get; init; } = string.Empty;

    public DeployLayout Layout { get; init; }

    public string? Ref { get; init; }

    public string? FromCommit { get; set; }

    public string? ToCommit { get; set; }

    public string? FromBuildId { get; set; }

    public string? ToBuildId { get; set; }

    public string? FromRelease { get; set; }

    public string? ToRelease { get; set; }

    public DeploymentOutcome Outcome { get; set; } = DeploymentOutcome.Failed;

    /// <summary>Why it failed or rolled back; for an unlock, why the lock was released.</summary>
    public string? Reason { get; set; }

    /// <summary>The error id of the failure that decided the outcome.</summary>
    public string? ErrorId { get; set; }

    /// <summary>The phase that failed.</summary>
    public string? FailedPhase { get; set; }

    /// <summary>Who ran it: user@machine of the operator or CI runner.</summary>
    public string User { get; init; } = string.Empty;

    public DateTimeOffset StartedAt { get; init; } = DateTimeOffset.UtcNow;

    public TimeSpan Duration { get; set; }

    public List<PhaseRecord> Phases { get; init; } = [];

    /// <summary>How the new version was proven healthy: by status only, or by its build id (from a header or the body).</summary>
    public HealthProof? HealthProof { get; set; }

    /// <summary>The app's own last output when the app was at fault (bounded; never its environment).</summary>
    public string? AppOutput { get; set; }

    /// <summary>The fault injected for a rehearsal (-FaultInjection), when one was.</summary>
    public string? FaultInjection { get; set; }

    /// <summary>The fleet deploy this host's deploy was part of (FleetDeploymentRecord.Id); null for a single-host deploy.</summary>
    public string? FleetId { get; init; }

    public override string ToString() => $"{Kind} {Id} {AppName}@{HostName}: {Outcome}{(Reason is null ? string.Empty : $" ({Reason})")}";
}
