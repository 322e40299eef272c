using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>
/// Sets a server up for the Release layout: releases/, shared/, .aeddeploy/ (with the ready-signal preload),
/// a first release built from the repository when there is none, and PM2 running the app from current.
/// An app that PM2 already runs from elsewhere is moved once, explained and only after confirmation: in cluster
/// mode with no request refused (new workers from current beside the old ones, on the shared port, before the
/// old ones go); in fork mode, whose workers cannot share the port, with one delete and start (a short outage).
/// With -StaticPool it also sets up the app's static pool for fleet deploys: filled from the live release, and an
/// nginx snippet written beside the deploy state for the user to include (their nginx configuration is never edited).
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

    /// <summary>Sets up the static pool (&lt;AppPath&gt;/static) and its nginx snippet (&lt;AppPath&gt;/.aeddeploy/nginx-static.conf).</summary>
    [Parameter]
    public SwitchParameter StaticPool { get; set; }

    /// <summary>Where nginx passes a request for a file the pool does not hold: the app itself (scheme, host and port).</summary>
    [Parameter]
    [ValidateNotNull]
    public Uri? StaticPoolUpstream { get; set; }

    /// <summary>With -StaticPool: the command that tests nginx's configuration (nginx -t) once the snippet is written.</summary>
    [Parameter]
    [Alias("TestCommand")]
    [ValidateNotNullOrEmpty]
    public string? NginxTestCommand { get; set; }

    protected override void ProcessRecord()
    {
        RequireLayout(DeployLayout.Release, "an InPlace checkout needs no set-up.");
        ValidateStaticPoolParameters();
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

        if (StaticPool && ShouldProcess(
                $"{AppPath}/static on {Session}",
                $"Create the static pool, fill it from release {liveId} and write the nginx snippet {AppPath}/.aeddeploy/{StaticPoolService.SnippetFile}"))
        {
            var pool = RunPhase((target, log, token) => new StaticPoolService(Session, target, log).SetUpAsync(liveId, StaticPoolUpstream!, NginxTestCommand, token));
            WriteVerbose($"Static pool {pool.PoolPath}: {pool.Linked} file(s) linked from release {liveId}, {pool.AlreadyPresent} already there; a miss goes to {pool.Upstream}.");
            if (pool.Collisions > 0)
            {
                WriteWarning(
                    $"{pool.Collisions} file(s) of release {liveId} were not linked into the static pool {pool.PoolPath}: the pool holds other files at those paths, "
                    + "which are never replaced. Those requests are passed to the app.");
            }

            WriteInformation(
                $"The static pool is set up. Add this line inside the nginx server block of {AppName}, then test and reload nginx: {pool.IncludeLine}"
                + (pool.NginxAccepted == true ? $" ('{NginxTestCommand}' passed.)" : string.Empty),
                [StaticPoolTag]);
        }

        var live = RunPhase((target, log, token) => new ReleaseStore(Session, target, log).ListAsync(token));
        WriteObject(live.Single(r => r.IsLive));
    }

    /// <summary>The Information tag of the line that says which include to add to nginx.</summary>
    public const string StaticPoolTag = "AedDeploy.StaticPool";

    private void ValidateStaticPoolParameters()
    {
        if (!StaticPool)
        {
            if (StaticPoolUpstream is not null || NginxTestCommand is not null)
            {
                ThrowArgumentError("StaticPoolParameterNeedsStaticPool", "-StaticPoolUpstream and -NginxTestCommand are used with -StaticPool only.", AppPath);
            }

            return;
        }

        if (StaticPoolUpstream is null)
        {
            ThrowArgumentError(
                "StaticPoolUpstreamRequired",
                "-StaticPool needs -StaticPoolUpstream: the app's own address (such as http://127.0.0.1:3000), which nginx asks for a file the pool does not hold.",
                AppPath);
        }

        try
        {
            StaticPoolService.ValidateUpstream(StaticPoolUpstream!);
        }
        catch (AedDeployException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
        }
    }
}
