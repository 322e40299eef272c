namespace AedDeploy;

/// <summary>One read-only check made before a deploy.</summary>
public sealed record PreflightCheck(string Name, bool Passed, string Detail);

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
