using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>
/// Releases a target's deploy lock whoever holds it, for a person who knows the holder is gone and will not wait
/// for its lease to run out (a deploy that dies is taken over by the next one once it stops renewing the lock).
/// The release is written to the history with who did it and why. Make sure the deploy that holds it is not running.
/// </summary>
[Cmdlet(VerbsCommon.Unlock, "Deploy", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(LockInfo))]
public sealed class UnlockDeployCommand : AppStateCmdlet
{
    /// <summary>Why the lock is released, for the history.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Reason { get; set; } = string.Empty;

    protected override void ProcessRecord()
    {
        var holder = RunOnState((target, log, token) => new DeployLock(Session, target, log).ShowAsync(token));
        if (holder is null)
        {
            WriteWarning($"{AppPath} on {Session.HostName} is not locked.");
            return;
        }

        if (!ShouldProcess($"{AppPath} on {Session}", $"Release the deploy lock held by {holder}"))
        {
            return;
        }

        var removed = RunOnState(async (target, log, token) =>
        {
            var released = await new DeployLock(Session, target, log).ForceReleaseAsync(token).ConfigureAwait(false);
            await new DeployHistory(Session, target, log).AppendAsync(
                new DeploymentRecord
                {
                    Id = released?.DeployId ?? holder.DeployId,
                    Kind = HistoryKind.Unlock,
                    HostName = Session.HostName,
                    AppName = target.AppName,
                    AppPath = target.AppPath,
                    Layout = target.Layout,
                    Ref = released?.Ref,
                    Outcome = DeploymentOutcome.Succeeded,
                    Reason = $"{Reason} (the lock was held by {released ?? holder})",
                    User = $"{System.Environment.UserName}@{System.Environment.MachineName}",
                },
                token).ConfigureAwait(false);
            return released ?? holder;
        });
        WriteObject(removed);
    }
}
