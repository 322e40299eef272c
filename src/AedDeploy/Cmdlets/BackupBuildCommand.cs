using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>Keeps the live build as the rollback target: a copy of .next (InPlace) or the live release (Release).</summary>
[Cmdlet(VerbsData.Backup, "Build", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(BuildBackup))]
public sealed class BackupBuildCommand : AppCmdlet
{
    protected override void ProcessRecord()
    {
        var what = Layout == DeployLayout.Release ? "Record the live release as the rollback target" : "Copy .next to .next.backup";
        if (!ShouldProcess($"{AppName} at {AppPath} on {Session}", what))
        {
            return;
        }

        WriteObject(RunPhase((target, log, token) => new BackupService(Session, target, log).BackupAsync(token)));
    }
}
