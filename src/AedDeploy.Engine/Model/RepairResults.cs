namespace AedDeploy;

/// <summary>What Repair-DeployTarget will do to bring a target back to a consistent state (its -WhatIf output), and what it found.</summary>
public sealed class RepairPlan : PhaseResult
{
    public RepairPlan(DeploySession session, AppTarget target) : base(session, target)
    {
    }

    /// <summary>The target as it was inspected.</summary>
    public required TargetConsistency Consistency { get; init; }

    /// <summary>Who held the deploy lock at the inspection, if anyone.</summary>
    public LockInfo? Lock { get; init; }

    /// <summary>Keeps the live release and proves it, instead of putting the last verified release back.</summary>
    public bool KeepLive { get; init; }

    /// <summary>The release that will be live and proven healthy (Release layout).</summary>
    public string? ReleaseId { get; init; }

    /// <summary>The release current points at now, when current is switched away from it.</summary>
    public string? SwitchFrom { get; init; }

    /// <summary>Whether the workers are reloaded (they do not all run the release that will be live, or are not online).</summary>
    public bool Reload { get; init; }

    /// <summary>Whether the release is recorded Verified once it is proven healthy (it was not yet).</summary>
    public bool RecordVerified { get; init; }

    /// <summary>Releases nothing is making any more (Building or Built, not live, not verified) that are marked Failed.</summary>
    public IReadOnlyList<string> MarkFailed { get; init; } = [];

    /// <summary>Of those, the releases still Building: what the abandoned build left running in them is ended first.</summary>
    public IReadOnlyList<string> EndBuilds { get; init; } = [];

    /// <summary>The steps, in order, in words.</summary>
    public IReadOnlyList<string> Steps { get; init; } = [];
}

/// <summary>What Repair-DeployTarget (or a deploy that took over an abandoned lock) did, and the proof of health.</summary>
public sealed class RepairResult : PhaseResult
{
    public RepairResult(DeploySession session, AppTarget target) : base(session, target)
    {
    }

    /// <summary>The id of the repair's history entry (and of its lock).</summary>
    public string Id { get; init; } = string.Empty;

    public required RepairPlan Plan { get; init; }

    /// <summary>The release live and proven healthy (Release layout).</summary>
    public string? ReleaseId => Plan.ReleaseId;

    /// <summary>The problems the repair fixed; empty when the target was consistent and only proven healthy.</summary>
    public IReadOnlyList<string> Fixed => Plan.Consistency.Problems;

    /// <summary>The abandoned deploy whose lock was taken over, when there was one.</summary>
    public LockInfo? TookOverFrom { get; init; }

    public ReloadResult? Reload { get; init; }

    /// <summary>The workers ran the right release, online, but answered unhealthy, so they were reloaded once before the verdict.</summary>
    public bool ReloadedUnhealthy { get; init; }

    public HealthReport? Health { get; init; }
}
