using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>
/// Brings a target back to a consistent state: the last verified release live (current switched back if needed),
/// the workers reloaded onto it, health proven, the releases nothing is making any more marked Failed, and a Repair
/// entry in the history. With -KeepLive the live release is proven healthy instead and recorded Verified. Takes the
/// deploy lock: a holder that still renews it is refused (DeployLocked), an abandoned one is taken over.
/// -WhatIf writes the plan and changes nothing.
/// </summary>
[Cmdlet(VerbsDiagnostic.Repair, "DeployTarget", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(RepairResult), typeof(RepairPlan))]
public sealed class RepairDeployTargetCommand : HealthCheckingCmdlet
{
    /// <summary>Keeps the live release: proves it healthy and records it Verified, as the rollback target.</summary>
    [Parameter]
    public SwitchParameter KeepLive { get; set; }

    [Parameter]
    [TimeSpanSeconds]
    public TimeSpan ReloadTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long the repair's lock lives without a renewal (see Invoke-ZeroDowntimeDeploy -LockLease).</summary>
    [Parameter]
    [TimeSpanSeconds]
    public TimeSpan LockLease { get; set; } = DeployLock.DefaultLease;

    /// <summary>How long to wait for a deploy that holds the lock to release it or stop renewing it.</summary>
    [Parameter]
    [TimeSpanSeconds(AllowZero = true)]
    public TimeSpan LockWaitTimeout { get; set; } = TimeSpan.Zero;

    /// <summary>Leaves out the build id check: health proves the status (and -ContentPattern) only.</summary>
    [Parameter]
    public SwitchParameter SkipBuildIdCheck { get; set; }

    protected override void ProcessRecord()
    {
        var keepLive = KeepLive.IsPresent;
        var plan = RunPhase((target, log, token) => new TargetRepairer(Session, target, log).PlanAsync(keepLive, token));
        if (!ShouldProcess($"{AppName} ({Layout}) at {AppPath} on {Session}", string.Join("; ", plan.Steps)))
        {
            WriteObject(plan);
            return;
        }

        var request = new RepairRequest
        {
            Health = HealthRequest,
            KeepLive = keepLive,
            ReloadTimeout = ReloadTimeout,
            LockLease = LockLease,
            LockWaitTimeout = LockWaitTimeout,
            ProveBuildId = !SkipBuildIdCheck,
        };
        WriteObject(RunPhase((target, log, token) => new TargetRepairer(Session, target, log).RepairAsync(request, token)));
    }
}
