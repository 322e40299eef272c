using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>Puts a backup from Backup-Build back live, reloads the workers onto it and proves health.</summary>
[Cmdlet(VerbsData.Restore, "Build", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(RestoreResult))]
public sealed class RestoreBuildCommand : HealthCheckingCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    public BuildBackup Backup { get; set; } = null!;

    [Parameter]
    [TimeSpanSeconds]
    public TimeSpan ReloadTimeout { get; set; } = TimeSpan.FromMinutes(5);

    protected override void ProcessRecord()
    {
        if (Backup.Layout != Layout || Backup.AppPath != AppPath.TrimEnd('/') || Backup.AppName != AppName || Backup.HostName != Session.HostName)
        {
            ThrowArgumentError("BackupDoesNotMatchApp",
                $"The backup is of {Backup.AppName} at {Backup.AppPath} ({Backup.Layout}) on {Backup.HostName}, not of {AppName} at {AppPath} ({Layout}) on {Session.HostName}.", Backup);
        }

        var what = Layout == DeployLayout.Release ? $"Point current back at release {Backup.ReleaseId}, reload" : $"Put {Backup.BackupPath} back as .next, reset to {Backup.Commit}, reload";
        if (!ShouldProcess($"{AppName} on {Session}", what))
        {
            return;
        }

        // Unless told otherwise, the restored build must be the one answering, wherever the answers show a build id.
        var health = ExpectedBuildId is null && Backup.BuildId.Length > 0 ? HealthRequest.WithBuildId(Backup.BuildId) : HealthRequest;
        WriteObject(RunPhase((target, log, token) => new RestoreService(Session, target, log).RestoreAsync(Backup, health, ReloadTimeout, token)));
    }
}
