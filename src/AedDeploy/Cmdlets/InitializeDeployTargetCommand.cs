using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>
/// Sets a server up for the Release layout: releases/, shared/, .aeddeploy/ (with the ready-signal preload),
/// a first release built from the repository when there is none, and PM2 running the app from current.
/// An app that PM2 already runs from elsewhere is moved once, explained and only after confirmation: in cluster
/// mode with no request refused (new workers from current beside the old ones, on the shared port, before the
/// old ones go); in fork mode, whose workers cannot share the port, with one delete and start (a short outage).
/// </summary>
[Cmdlet(VerbsData.Initialize, "DeployTarget", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(ReleaseInfo))]
public sealed class InitializeDeployTargetCommand : AppCmdlet
{
    /// <summary>The git repository of the app, for the first release.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Repository { get; set; }

    /// <summary>The ref the first release is built from.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Ref { get; set; } = "main";

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string BuildCommand { get; set; } = "npm run build";

    [Parameter]
    [TimeSpanSeconds]
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromMinutes(2);

    protected override void ProcessRecord()
    {
        RequireLayout(DeployLayout.Release, "an InPlace checkout needs no set-up.");
        if (!ShouldProcess($"{AppPath} on {Session}", "Create the Release layout (releases/, shared/, .aeddeploy/) and a first release if there is none"))
        {
            return;
        }

        var liveId = RunPhase((target, log, token) => new TargetInitializer(Session, target, log).PrepareAsync(token));
        if (liveId is null)
        {
            if (Repository is null)
            {
                ThrowArgumentError("RepositoryRequired", $"{AppPath} has no release yet: give the app's git repository with -Repository to build the first one.", AppPath);
            }

            var request = new BuildRequest { Ref = Ref, Repository = Repository, BuildCommand = BuildCommand };
            liveId = RunPhase((target, log, token) => new TargetInitializer(Session, target, log).CreateFirstReleaseAsync(request, token));
        }

        var placement = RunPhase((target, log, token) => new TargetInitializer(Session, target, log).InspectPm2Async(token));
        if (!placement.Running)
        {
            RunPhase((target, log, token) => new TargetInitializer(Session, target, log).StartFromCurrentAsync(false, StartTimeout, token));
        }
        else if (placement.FromCurrent)
        {
            if (placement.MigrationLeftover)
            {
                RunPhase((target, log, token) => new TargetInitializer(Session, target, log).FinishMigrationAsync(StartTimeout, token));
            }
        }
        else if (placement.ClusterMode)
        {
            WriteWarning(
                $"PM2 runs {AppName} from {placement.Cwd}. PM2 fixes an app's working folder at its first start, so to follow {AppPath}/current it is moved once: "
                + $"its workers are started from current beside the old ones (as {AppName}-aedmigrate, on the same port), then the old ones are deleted and {AppName} "
                + "started again from current before the temporary ones go. No request is refused; for a moment the app runs twice its instances.");
            if (ShouldProcess($"{AppName} in PM2 on {Session}", $"Start it from {AppPath}/current beside the running workers, then delete the old ones (no request refused)"))
            {
                RunPhase((target, log, token) => new TargetInitializer(Session, target, log).MigrateAsync(placement.Cwd, StartTimeout, token));
            }
        }
        else
        {
            WriteWarning(
                $"PM2 runs {AppName} from {placement.Cwd} in fork mode. PM2 fixes an app's working folder at its first start, so to follow {AppPath}/current it must be "
                + "deleted and started once; fork-mode workers cannot share the port with new ones, so the app is down for the few seconds its workers take to start. "
                + "Later deploys reload without downtime.");
            if (ShouldProcess($"{AppName} in PM2 on {Session}", $"Delete and start it once from {AppPath}/current (a short outage: fork mode)"))
            {
                RunPhase((target, log, token) => new TargetInitializer(Session, target, log).StartFromCurrentAsync(true, StartTimeout, token));
            }
        }

        var live = RunPhase((target, log, token) => new ReleaseStore(Session, target, log).ListAsync(token));
        WriteObject(live.Single(r => r.IsLive));
    }
}
