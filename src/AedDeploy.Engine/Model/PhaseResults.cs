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

    /// <summary>
    /// How the build's <c>.next/cache</c> was seeded from the live release (Release layout): reflink, copy,
    /// none (no cache to copy, or -SkipBuildCache) or failed (the build started cold).
    /// </summary>
    public string BuildCache { get; init; } = "none";

    /// <summary>The bytes of build cache the release started with.</summary>
    public long BuildCacheBytes { get; init; }

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

/// <summary>How a PM2 reload went, instance by instance, checked against the process list, not PM2's exit code.</summary>
public sealed class ReloadResult : PhaseResult
{
    public ReloadResult(DeploySession session, AppTarget target) : base(session, target)
    {
    }

    /// <summary>The release the workers were expected to run from (Release layout).</summary>
    public string? ReleasePath { get; init; }

    public IReadOnlyList<Pm2Process> Before { get; init; } = [];

    public IReadOnlyList<Pm2Process> After { get; init; } = [];

    /// <summary>Env keys that an earlier ecosystem file set, the current one no longer does, and PM2 still gives the app.</summary>
    public IReadOnlyList<string> StaleEnvironmentKeys { get; init; } = [];

    public IReadOnlyList<string> Warnings { get; init; } = [];

    public int Instances => After.Count;

    /// <summary>
    /// How long the workers' PM2 log files were when the reload began, so that a later failure (the health
    /// check) can show what the new workers wrote. Internal: an engine detail, not part of the result's view.
    /// </summary>
    internal IReadOnlyList<Pm2LogMark> LogMarks { get; init; } = [];
}

/// <summary>Where health probes are sent from.</summary>
public enum ProbeSource
{
    /// <summary>From the server, through the session, with curl (as the hand-written process did): reaches loopback-only apps.</summary>
    Server,

    /// <summary>From the machine running the module, as a user's browser would.</summary>
    Client,
}

/// <summary>How probing one URL went.</summary>
public sealed class ProbeResult
{
    public string Url { get; init; } = string.Empty;

    public bool Passed { get; init; }

    /// <summary>The last HTTP status seen (0 when no answer came).</summary>
    public int StatusCode { get; init; }

    public int Attempts { get; init; }

    public int ConsecutiveSuccesses { get; init; }

    public TimeSpan Elapsed { get; init; }

    /// <summary>Why the last failed probe failed.</summary>
    public string? Error { get; init; }

    /// <summary>How the passing answers were tied to the expected build (the weakest of them).</summary>
    public HealthProof Proof { get; init; } = HealthProof.Status;
}

/// <summary>What proved that the answers came from the expected build.</summary>
public enum HealthProof
{
    /// <summary>Only the HTTP status (and any content pattern): the app gave no build id.</summary>
    Status,

    /// <summary>The build id in the response header the ready preload adds (X-Build-Id).</summary>
    BuildIdHeader,

    /// <summary>The build id in the response body.</summary>
    BuildIdBody,
}

/// <summary>Whether the app is proven healthy: probes answered as expected and PM2 kept every instance up.</summary>
public sealed class HealthReport : PhaseResult
{
    public HealthReport(DeploySession session, AppTarget target) : base(session, target)
    {
    }

    public bool Healthy => Problems.Count == 0;

    public IReadOnlyList<ProbeResult> Probes { get; init; } = [];

    public IReadOnlyList<Pm2Process> Instances { get; init; } = [];

    public IReadOnlyList<string> Problems { get; init; } = [];

    /// <summary>How the answers were tied to the expected build (the weakest proof among the probes).</summary>
    public HealthProof Proof { get; init; } = HealthProof.Status;
}

/// <summary>A backup put back live: the build restored, the workers reloaded onto it, and health proven.</summary>
public sealed class RestoreResult : PhaseResult
{
    public RestoreResult(DeploySession session, AppTarget target) : base(session, target)
    {
    }

    public string? ReleaseId { get; init; }

    public string Commit { get; init; } = string.Empty;

    public string BuildId { get; init; } = string.Empty;

    public ReloadResult? Reload { get; init; }

    public HealthReport? Health { get; init; }
}

/// <summary>How emptying the nginx cache went (Clear-NginxCache).</summary>
public sealed class CacheClearResult
{
    public string HostName { get; init; } = string.Empty;

    public string CachePath { get; init; } = string.Empty;

    public int FilesRemoved { get; init; }

    /// <summary>Whether nginx -t accepted the configuration; null when it was not tested (no cache folder).</summary>
    public bool? ConfigurationValid { get; init; }

    public bool Reloaded { get; init; }

    public bool Succeeded => ConfigurationValid == true && Reloaded;

    /// <summary>What went wrong, when something did.</summary>
    public string? Problem { get; init; }

    public TimeSpan Duration { get; init; }
}
