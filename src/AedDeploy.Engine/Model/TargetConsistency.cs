namespace AedDeploy;

/// <summary>Where one PM2 worker of the app really runs: its <c>/proc/&lt;pid&gt;/cwd</c>, resolved.</summary>
public sealed record WorkerFolder(int PmId, int Pid, string Status, string Folder);

/// <summary>
/// Whether a target is in a state a deploy can start from, checked rather than trusted: every worker runs the
/// live folder (<c>current</c> resolved, or the InPlace checkout), and (Release layout) the live release is the
/// last one recorded Verified, the only release a rollback may go back to.
/// </summary>
public sealed class TargetConsistency : PhaseResult
{
    public TargetConsistency(DeploySession session, AppTarget target) : base(session, target)
    {
    }

    /// <summary>The folder the live path resolves to (readlink -f).</summary>
    public string LiveFolder { get; init; } = string.Empty;

    /// <summary>The release <c>current</c> points at (Release layout).</summary>
    public string? LiveRelease { get; init; }

    /// <summary>The release a rollback goes back to: the last one recorded Verified (Release layout).</summary>
    public string? RollbackTarget { get; init; }

    public IReadOnlyList<WorkerFolder> Workers { get; init; } = [];

    /// <summary>Every release, as Get-Release lists them (Release layout).</summary>
    public IReadOnlyList<ReleaseInfo> Releases { get; init; } = [];

    /// <summary>Releases still Building or Built that are neither live nor verified: no deploy is making them any more when the lock is free.</summary>
    public IReadOnlyList<string> UnfinishedReleases { get; init; } = [];

    public IReadOnlyList<string> Problems { get; init; } = [];

    public bool IsConsistent => Problems.Count == 0;
}
