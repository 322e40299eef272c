using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>
/// Reloads the app's PM2 workers one at a time and proves it from the process list: every instance
/// online, restarted exactly once, and running from the release current points at (Release layout) or
/// from the checkout (InPlace), by PM2's cwd and by each worker's own.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "Pm2Reload", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(ReloadResult))]
public sealed class InvokePm2ReloadCommand : AppCmdlet
{
    /// <summary>How long pm2 reload may take for all instances.</summary>
    [Parameter]
    [TimeSpanSeconds]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(5);

    protected override void ProcessRecord()
    {
        if (!ShouldProcess($"{AppName} on {Session}", "Reload the PM2 workers one at a time"))
        {
            return;
        }

        WriteObject(RunPhase((target, log, token) => new ReloadService(Session, target, log).ReloadAsync(Timeout, token)));
    }
}
