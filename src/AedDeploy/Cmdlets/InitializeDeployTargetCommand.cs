using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>
/// Sets a server up for the Release layout: releases/, shared/, .aeddeploy/ (with the ready-signal preload),
/// a first release built from the repository when there is none, and PM2 running the app from current.
/// Moving an app that PM2 already runs from elsewhere means one delete and start (a short outage): it is
/// explained and done only after confirmation.
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

        var (running, fromCurrent, cwd) = RunPhase((target, log, token) => new TargetInitializer(Session, target, log).InspectPm2Async(token));
        if (running && !fromCurrent)
        {
            WriteWarning(
                $"PM2 runs {AppName} from {cwd}. PM2 fixes an app's working folder at its first start, so to follow {AppPath}/current it must be deleted "
                + "and started once: the app is down for the few seconds its workers take to start. Later deploys reload without downtime.");
        }

        if (!running || (!fromCurrent && ShouldProcess($"{AppName} in PM2 on {Session}", $"Delete and start it once from {AppPath}/current (a short outage)")))
        {
            RunPhase((target, log, token) => new TargetInitializer(Session, target, log).StartFromCurrentAsync(running, StartTimeout, token));
        }

        var live = RunPhase((target, log, token) => new ReleaseStore(Session, target, log).ListAsync(token));
        WriteObject(live.Single(r => r.IsLive));
    }
}
