namespace AedDeploy;

/// <summary>One read-only check made before a deploy; a failed check with its own error id stops a deploy with that id.</summary>
public sealed record PreflightCheck(string Name, bool Passed, string Detail, string? ErrorId = null);

/// <summary>A working folder PM2 stored for an app (pm_cwd), resolved, and its parent folder resolved.</summary>
public sealed record Pm2Folder(string Cwd, string Resolved, string ResolvedParent);

/// <summary>What a deploy would start from, checked without changing anything (Invoke-ZeroDowntimeDeploy -WhatIf).</summary>
public sealed class PreflightReport : PhaseResult
{
    public PreflightReport(DeploySession session, AppTarget target) : base(session, target)
    {
    }

    public IReadOnlyList<PreflightCheck> Checks { get; init; } = [];

    public string? LiveRelease { get; init; }

    public string? LiveBuildId { get; init; }

    /// <summary>Who holds the deploy lock now, if anyone.</summary>
    public LockInfo? Lock { get; init; }

    /// <summary>Whether the workers run the live folder and the live release is the last verified one; null when it could not be checked.</summary>
    public TargetConsistency? Consistency { get; init; }

    public bool CanDeploy => Checks.All(c => c.Passed);
}
