using System.Collections;
using System.Management.Automation;
using System.Security;
using AedDeploy.Engine;
using AedDeploy.Engine.Fleet;

namespace AedDeploy.Cmdlets;

/// <summary>
/// The whole deploy: lock, backup, build, validate, boot test, switch, reload, health, cache purge, unlock,
/// with automatic rollback when anything fails after the live state changed, and a history entry on the
/// server. Writes a DeploymentRecord; a deploy that did not succeed is also a terminating error.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "ZeroDowntimeDeploy", DefaultParameterSetName = SessionSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(DeploymentRecord), typeof(FleetDeploymentRecord), typeof(PreflightReport))]
public sealed class InvokeZeroDowntimeDeployCommand : AedCmdlet
{
    private const string SessionSet = "Session";
    private const string ConnectSet = "Connect";
    private const string ConfigurationSet = "Configuration";

    private readonly List<Member> members = [];
    private Hashtable configuration = new();

    /// <summary>The sessions to deploy: one, or several for a fleet (each a host behind the load balancer); also from the pipeline.</summary>
    [Parameter(Mandatory = true, ParameterSetName = SessionSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Parameter(ParameterSetName = ConfigurationSet, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public DeploySession[]? Session { get; set; }

    /// <summary>The hosts to connect to: one, or several for a fleet that shares the connection settings.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ConnectSet)]
    [Parameter(ParameterSetName = ConfigurationSet)]
    [Alias("ComputerName")]
    [ValidateNotNullOrEmpty]
    public string[]? HostName { get; set; }

    /// <summary>A deploy description (deploy.psd1) with one entry per environment.</summary>
    [Parameter(Mandatory = true, ParameterSetName = ConfigurationSet)]
    [ValidateNotNullOrEmpty]
    public string? ConfigurationPath { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = ConfigurationSet)]
    [ArgumentCompleter(typeof(EnvironmentCompleter))]
    [ValidateNotNullOrEmpty]
    public string? Environment { get; set; }

    [Parameter(ParameterSetName = ConnectSet)]
    [Parameter(ParameterSetName = ConfigurationSet)]
    [ValidateRange(1, 65535)]
    public int Port { get; set; } = 22;

    [Parameter(ParameterSetName = ConnectSet)]
    [Parameter(ParameterSetName = ConfigurationSet)]
    [Alias("User")]
    [ValidateNotNullOrEmpty]
    public string? UserName { get; set; }

    [Parameter(ParameterSetName = ConnectSet)]
    [Parameter(ParameterSetName = ConfigurationSet)]
    [Alias("IdentityFile", "KeyFile")]
    [ValidateNotNullOrEmpty]
    public string? KeyFilePath { get; set; }

    [Parameter(ParameterSetName = ConnectSet)]
    [Parameter(ParameterSetName = ConfigurationSet)]
    public SecureString? KeyPassphrase { get; set; }

    [Parameter(ParameterSetName = ConnectSet)]
    [Parameter(ParameterSetName = ConfigurationSet)]
    [Credential]
    public PSCredential? Credential { get; set; }

    [Parameter(ParameterSetName = ConnectSet)]
    [Parameter(ParameterSetName = ConfigurationSet)]
    [ValidateNotNullOrEmpty]
    public string? KnownHostsPath { get; set; }

    [Parameter(ParameterSetName = ConnectSet)]
    [Parameter(ParameterSetName = ConfigurationSet)]
    [ValidatePattern(@"^(SHA256:)?[A-Za-z0-9+/]{43}=?$")]
    public string? HostKeyFingerprint { get; set; }

    [Parameter(ParameterSetName = ConnectSet)]
    [Parameter(ParameterSetName = ConfigurationSet)]
    public SwitchParameter AcceptNewHostKey { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = SessionSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, ParameterSetName = ConnectSet)]
    [Parameter(ParameterSetName = ConfigurationSet)]
    [ValidateNotNullOrEmpty]
    public string? AppPath { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = SessionSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, ParameterSetName = ConnectSet)]
    [Parameter(ParameterSetName = ConfigurationSet)]
    [ArgumentCompleter(typeof(AppNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string? AppName { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public DeployLayout Layout { get; set; } = DeployLayout.Release;

    /// <summary>The branch, tag or commit to deploy.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = SessionSet)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ConnectSet)]
    [Parameter(Position = 0, ParameterSetName = ConfigurationSet)]
    [Alias("Branch")]
    [ValidateNotNullOrEmpty]
    public string? Ref { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Repository { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string BuildCommand { get; set; } = "npm run build";

    [Parameter]
    [TimeSpanSeconds]
    public TimeSpan BuildTimeout { get; set; } = TimeSpan.FromMinutes(20);

    /// <summary>The CPU niceness of the install and the build (0 to 19; 0 is normal priority), with the lowest best-effort I/O priority.</summary>
    [Parameter]
    [ValidateRange(0, 19)]
    public int BuildNiceness { get; set; } = 10;

    /// <summary>Starts the build without a copy of the live release's .next/cache (Release layout): a clean build.</summary>
    [Parameter]
    public SwitchParameter SkipBuildCache { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? Pm2Path { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? EcosystemFile { get; set; }

    /// <summary>The URLs that prove the new version healthy (probed from the server unless -ProbeSource Client).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Url")]
    [ValidateNotNullOrEmpty]
    public Uri[] HealthUrl { get; set; } = [];

    [Parameter]
    [ValidateRange(100, 599)]
    public int ExpectedStatus { get; set; } = 200;

    /// <summary>A regular expression the new version's answers must match.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ContentPattern { get; set; }

    [Parameter]
    [Alias("Source")]
    public ProbeSource ProbeSource { get; set; } = ProbeSource.Server;

    /// <summary>
    /// Every answer must show the new build id; an app that shows none fails health. Without it, an answer
    /// showing no build id proves its status only (with a warning); one showing another build id always fails.
    /// </summary>
    [Parameter]
    public SwitchParameter VerifyBuildId { get; set; }

    /// <summary>Leaves out the build id check (for an app whose X-Build-Id header carries something else).</summary>
    [Parameter]
    public SwitchParameter SkipBuildIdCheck { get; set; }

    [Parameter]
    [ValidateRange(1, 100)]
    public int RequiredSuccesses { get; set; } = 3;

    [Parameter]
    [ValidateRange(0.1, 600)]
    public double TimeoutSec { get; set; } = 5;

    [Parameter]
    [TimeSpanSeconds]
    public TimeSpan ReloadTimeout { get; set; } = TimeSpan.FromMinutes(5);

    [Parameter]
    [ValidateRange(0, 100)]
    public int MaximumRetryCount { get; set; } = 5;

    [Parameter]
    [ValidateRange(0, 3600)]
    public double RetryIntervalSec { get; set; } = 3;

    [Parameter]
    [ValidateRange(0, 3600)]
    public double StabilizationSec { get; set; } = 3;

    /// <summary>The nginx proxy_cache_path to empty after the switch.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? CachePath { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string NginxTestCommand { get; set; } = NginxCacheService.DefaultTestCommand;

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string NginxReloadCommand { get; set; } = NginxCacheService.DefaultReloadCommand;

    /// <summary>A failed cache purge fails and rolls back the deploy instead of warning.</summary>
    [Parameter]
    public SwitchParameter StrictCachePurge { get; set; }

    /// <summary>How long to wait for another deploy's lock; by default a locked target fails at once.</summary>
    [Parameter]
    [TimeSpanSeconds(AllowZero = true)]
    public TimeSpan LockWaitTimeout { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// How long the deploy lock lives without a renewal. The deploy renews it every few seconds while it runs; a
    /// deploy that dies (killed, its machine lost) stops renewing, and the next deploy takes the lock over this long
    /// after the last renewal and repairs what it left.
    /// </summary>
    [Parameter]
    [TimeSpanSeconds]
    public TimeSpan LockLease { get; set; } = DeployLock.DefaultLease;

    [Parameter]
    [ValidateRange(2, 100)]
    public int KeepReleases { get; set; } = 5;

    [Parameter]
    [TimeSpanSeconds]
    public TimeSpan BootTestTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How many earlier releases' static files (the live one first) a new release carries, for open tabs; 0 turns it off (Release layout).</summary>
    [Parameter]
    [ValidateRange(0, 100)]
    public int StaticRetentionReleases { get; set; } = 3;

    /// <summary>An earlier release's static files are carried while it stopped serving less than this many days ago.</summary>
    [Parameter]
    [ValidateRange(0, 3650)]
    public double StaticRetentionDays { get; set; } = 7;

    /// <summary>
    /// Next.js's deploymentId (NEXT_DEPLOYMENT_ID) for the new release, at build and at start (Release layout). Command line
    /// only, never from a configuration file: one there would give every deploy the same id, which no client could tell apart.
    /// </summary>
    [Parameter]
    [ValidatePattern("^[A-Za-z0-9_-]{1,64}$")]
    public string? DeploymentId { get; set; }

    /// <summary>Leaves out the boot test on a spare port (Release layout).</summary>
    [Parameter]
    public SwitchParameter SkipBootTest { get; set; }

    /// <summary>
    /// A fault to inject for a failure rehearsal: @{ Phase = 'Reload'; Kind = 'ConnectionDrop'; DelaySec = 2 }.
    /// Command line only, never from a configuration file, so that it is never on unless asked for.
    /// </summary>
    [Parameter]
    [ValidateNotNull]
    public Hashtable? FaultInjection { get; set; }

    /// <summary>
    /// Fleet: where the release is built: one of the sessions deployed (by default the first in lock order), or another
    /// machine's session, such as a local one on a CI runner (New-DeploySession -Local), which then builds at -BuildPath.
    /// </summary>
    [Parameter]
    [ValidateNotNull]
    public DeploySession? BuildOn { get; set; }

    /// <summary>Fleet, with -BuildOn a session that is not deployed: the folder the release is built in there (its own releases/ and current).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? BuildPath { get; set; }

    /// <summary>Fleet: how many hosts switch at once, a count (2) or a percentage of the fleet (25%); at least one host.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string BatchSize { get; set; } = "1";

    /// <summary>Fleet: how long to wait after a batch proved healthy before the next one switches.</summary>
    [Parameter]
    [TimeSpanSeconds(AllowZero = true)]
    public TimeSpan BatchWait { get; set; } = TimeSpan.Zero;

    /// <summary>Fleet: how many hosts work at the same time (build, ship, checks); locks are taken one after another, and a rollback is never throttled.</summary>
    [Parameter]
    [ValidateRange(1, 64)]
    public int ThrottleLimit { get; set; } = 4;

    /// <summary>Fleet: URLs probed from this machine through the load balancer after each batch (status only: both versions answer during the rollout).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public Uri[] LoadBalancerUrl { get; set; } = [];

    /// <summary>Fleet: fills no static pool. The new version's chunks then 404 on hosts that have not switched yet; for fleets that serve static files elsewhere (a CDN).</summary>
    [Parameter]
    public SwitchParameter SkipStaticPool { get; set; }

    /// <summary>One host to deploy: collected per pipeline object, deployed together once the pipeline ends.</summary>
    private sealed record Member(DeploySession Session, bool OwnSession, AppTarget Target, DeployRequest Request, string GitRef);

    protected override void ProcessRecord()
    {
        try
        {
            CollectMembers();
        }
        catch
        {
            // A later pipeline object's bad value stops the cmdlet: the sessions it opened for earlier ones are closed.
            DisposeOwnSessions();
            throw;
        }
    }

    /// <summary>One pipeline object: its hosts, with the values it carries (paths, health URLs, nginx); they deploy together in EndProcessing.</summary>
    private void CollectMembers()
    {
        configuration = ConfigurationPath is null ? new Hashtable() : Load(GetUnresolvedProviderPathFromPSPath(ConfigurationPath), Environment!);

        var appPath = Setting(nameof(AppPath), AppPath);
        var appName = Setting(nameof(AppName), AppName);
        var gitRef = Setting(nameof(Ref), Ref);
        if (appPath is null || appName is null || gitRef is null)
        {
            ThrowArgumentError("DeploySettingMissing", $"Give -AppPath, -AppName and -Ref, or set them in {ConfigurationPath} for '{Environment}'.", ConfigurationPath);
        }

        var repository = Setting(nameof(Repository), Repository);
        var layout = Setting(nameof(Layout), Layout);
        if (layout == DeployLayout.InPlace && repository is not null)
        {
            ThrowArgumentError("InPlaceTakesNoRelease", "-Repository is for the Release layout: an InPlace deploy fetches the checkout's own origin.", repository);
        }

        var deploymentId = DeploymentId;
        if (layout == DeployLayout.InPlace && deploymentId is not null)
        {
            ThrowArgumentError(
                "DeploymentIdNeedsRelease",
                "-DeploymentId is for the Release layout, where each release starts with its own id: an InPlace checkout has one folder for the old and the new build.",
                deploymentId);
        }

        AppTarget target;
        try
        {
            target = new AppTarget(appPath!, appName!, layout, Setting(nameof(Pm2Path), Pm2Path), Setting(nameof(EcosystemFile), EcosystemFile));
            Names.ValidateGitRef(gitRef);
            if (deploymentId is not null)
            {
                DeploymentIdService.Validate(deploymentId);
            }
        }
        catch (AedDeployException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
            return;
        }

        var strictBuildId = Setting(nameof(VerifyBuildId), VerifyBuildId.ToBool());
        var skipBuildId = Setting(nameof(SkipBuildIdCheck), SkipBuildIdCheck.ToBool());
        if (strictBuildId && skipBuildId)
        {
            ThrowArgumentError("BuildIdCheckConflict", "-VerifyBuildId requires the build id and -SkipBuildIdCheck leaves it out: give one of them.", nameof(SkipBuildIdCheck));
        }

        var request = new DeployRequest
        {
            Build = new BuildRequest
            {
                Ref = gitRef!,
                Repository = repository,
                BuildCommand = Setting(nameof(BuildCommand), BuildCommand),
                BuildTimeout = Setting(nameof(BuildTimeout), BuildTimeout),
                Niceness = Setting(nameof(BuildNiceness), BuildNiceness),
                UseBuildCache = !Setting(nameof(SkipBuildCache), SkipBuildCache.ToBool()),
            },
            Health = new HealthRequest
            {
                Urls = Setting(nameof(HealthUrl), HealthUrl),
                ExpectedStatus = Setting(nameof(ExpectedStatus), ExpectedStatus),
                ContentPattern = Setting(nameof(ContentPattern), ContentPattern),
                Source = Setting(nameof(ProbeSource), ProbeSource),
                MaximumRetryCount = Setting(nameof(MaximumRetryCount), MaximumRetryCount),
                RetryInterval = TimeSpan.FromSeconds(Setting(nameof(RetryIntervalSec), RetryIntervalSec)),
                RequiredSuccesses = Setting(nameof(RequiredSuccesses), RequiredSuccesses),
                ProbeTimeout = TimeSpan.FromSeconds(Setting(nameof(TimeoutSec), TimeoutSec)),
                StabilizationWindow = TimeSpan.FromSeconds(Setting(nameof(StabilizationSec), StabilizationSec)),
                RequireBuildId = strictBuildId,
            },
            VerifyBuildId = !skipBuildId,
            ReloadTimeout = Setting(nameof(ReloadTimeout), ReloadTimeout),
            BootTest = !Setting(nameof(SkipBootTest), SkipBootTest.ToBool()),
            BootTestTimeout = Setting(nameof(BootTestTimeout), BootTestTimeout),
            CachePath = Setting(nameof(CachePath), CachePath),
            NginxTestCommand = Setting(nameof(NginxTestCommand), NginxTestCommand),
            NginxReloadCommand = Setting(nameof(NginxReloadCommand), NginxReloadCommand),
            StrictCachePurge = Setting(nameof(StrictCachePurge), StrictCachePurge.ToBool()),
            LockWaitTimeout = Setting(nameof(LockWaitTimeout), LockWaitTimeout),
            LockLease = Setting(nameof(LockLease), LockLease),
            KeepReleases = Setting(nameof(KeepReleases), KeepReleases),
            StaticRetentionReleases = Setting(nameof(StaticRetentionReleases), StaticRetentionReleases),
            StaticRetentionAge = TimeSpan.FromDays(Setting(nameof(StaticRetentionDays), StaticRetentionDays)),
            DeploymentId = deploymentId,
        };
        if (Session is { } sessions)
        {
            members.AddRange(sessions.Select(session => new Member(session, false, target, request, gitRef!)));
        }
        else
        {
            foreach (var hostName in Setting(nameof(HostName), HostName) ?? [])
            {
                members.Add(new Member(OpenSession(hostName), true, target, request, gitRef!));
            }

            if (members.Count == 0)
            {
                ThrowArgumentError("DeploySettingMissing", $"Give -HostName or -Session, or set HostName in {ConfigurationPath} for '{Environment}'.", ConfigurationPath);
            }
        }
    }

    protected override void EndProcessing()
    {
        try
        {
            if (members.Count == 0)
            {
                return;
            }

            if (members.Count == 1 && BuildOn is null)
            {
                DeployOne(members[0]);
            }
            else
            {
                DeployFleet();
            }
        }
        finally
        {
            DisposeOwnSessions();
        }
    }

    private void DisposeOwnSessions()
    {
        foreach (var member in members.Where(m => m.OwnSession))
        {
            member.Session.Dispose();
        }

        members.RemoveAll(m => m.OwnSession);
    }

    /// <summary>One host: the deploy as it always was.</summary>
    private void DeployOne(Member member)
    {
        var (session, target, request, gitRef) = (member.Session, member.Target, member.Request, member.GitRef);
        if (FaultInjection is not null)
        {
            request.FaultInjection = ReadFaultInjection(FaultInjection, target.Layout, request, gitRef, [session.HostName], fleet: false).Fault;
        }

        if (request.FaultInjection is { Kind: FaultKind.ConnectionDrop } && session.Transport != SessionTransport.Ssh)
        {
            ThrowArgumentError("FaultInjectionInvalid", "A ConnectionDrop can only be injected into an SSH session; this one is local.", FaultInjection);
        }

        var action = request.FaultInjection is null ? $"Deploy '{gitRef}'" : $"Deploy '{gitRef}', injecting {request.FaultInjection}";
        if (!ShouldProcess($"{target} on {session}", action))
        {
            // -WhatIf: the read-only preflight, nothing changed.
            WriteObject(RunEngine((log, token) => new DeployOrchestrator(session, target, log).PreflightAsync(request.MinimumFreeDiskMegabytes, token)));
            return;
        }

        var record = RunEngine((log, token) => new DeployOrchestrator(session, target, log).DeployAsync(request, token), target.ToString());
        WriteObject(record);
        if (record.Outcome != DeploymentOutcome.Succeeded)
        {
            var rolledBack = record.Outcome == DeploymentOutcome.RolledBack;
            var message = rolledBack
                ? $"The deploy of '{gitRef}' to {target} failed in phase {record.FailedPhase} and was rolled back; the previous version is serving. {record.Reason}"
                : $"The deploy of '{gitRef}' to {target} failed in phase {record.FailedPhase}. {record.Reason}";
            // What the app itself printed (its exception), so that a CI log shows why without a login.
            message += record.AppOutput is { Length: > 0 } appOutput ? $"\nThe app's last output:\n{appOutput}" : string.Empty;
            ThrowTerminatingError(ToErrorRecord(new AedDeployException(rolledBack ? "DeploymentRolledBack" : "DeploymentFailed", FailureKind.InvalidResult, message, record)));
        }
    }

    /// <summary>Several hosts: one build shipped to all, a barrier, a rolling switch and a fleet-wide rollback.</summary>
    private void DeployFleet()
    {
        var first = members[0];
        var gitRef = first.GitRef;
        if (members.Any(m => m.GitRef != gitRef))
        {
            ThrowArgumentError("FleetRefMismatch", $"Every host of a fleet deploys the same ref; got {string.Join(", ", members.Select(m => m.GitRef).Distinct())}.", gitRef);
        }

        var apps = members.Select(m => m.Target.AppName).Distinct(StringComparer.Ordinal).ToList();
        if (apps.Count > 1)
        {
            ThrowArgumentError(
                "FleetAppMismatch",
                $"The hosts given deploy different apps ({string.Join(", ", apps)}): a fleet deploy is one app on several hosts, sharing one build and rolling back together. "
                + "Deploy each app with its own Invoke-ZeroDowntimeDeploy (ForEach-Object { ... }).", apps);
        }

        var inPlace = members.FirstOrDefault(m => m.Target.Layout != DeployLayout.Release);
        if (inPlace is not null)
        {
            ThrowArgumentError(
                "FleetNeedsReleaseLayout",
                $"A deploy to several hosts needs the Release layout ({inPlace.Session.HostName}: {inPlace.Target} is {inPlace.Target.Layout}): an InPlace host rebuilds under its "
                + "running workers and cannot wait for the others. Set the hosts up with Initialize-DeployTarget, or deploy one host at a time.", inPlace.Target.AppPath);
        }

        var buildsElsewhere = BuildOn is not null && !members.Any(m => ReferenceEquals(m.Session, BuildOn));
        if (buildsElsewhere && BuildPath is null)
        {
            ThrowArgumentError(
                "FleetBuildPathMissing",
                $"-BuildOn {BuildOn} is not one of the sessions being deployed: give -BuildPath, the folder to build in there (it keeps its own releases/ and current), or -BuildOn one of the hosts' sessions.",
                BuildOn);
        }

        if (!buildsElsewhere && BuildPath is not null)
        {
            ThrowArgumentError("FleetBuildPathUnused", "-BuildPath is where a -BuildOn session that is not deployed builds; a host of the fleet builds in its own releases/.", BuildPath);
        }

        FleetBatchSize batchSize;
        string? buildPath;
        try
        {
            batchSize = FleetBatchSize.Parse(Setting(nameof(BatchSize), BatchSize));
            buildPath = buildsElsewhere ? new AppTarget(BuildPath!, first.Target.AppName, DeployLayout.Release).AppPath : null;
        }
        catch (AedDeployException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
            return;
        }

        var requests = members.Select(m => m.Request).ToList();
        if (FaultInjection is not null)
        {
            // The build host (the -BuildOn member, else the first in lock order) runs Build and Pack; the others Fetch and Receive.
            var ordering = FleetOrchestrator.Order(members.Select(m => new FleetMember(m.Session, m.Target, m.Request)).ToList());
            var builderName = buildsElsewhere ? null : (BuildOn ?? ordering[0].Session).HostName;
            var (fault, faultHost) = ReadFaultInjection(FaultInjection, DeployLayout.Release, first.Request, gitRef, members.Select(m => m.Session.HostName).Distinct().ToList(), fleet: true, builderName);
            if (fault.Kind == FaultKind.ConnectionDrop && members.First(m => m.Session.HostName == faultHost).Session.Transport != SessionTransport.Ssh)
            {
                ThrowArgumentError("FaultInjectionInvalid", $"A ConnectionDrop can only be injected into an SSH session; {faultHost} is local.", FaultInjection);
            }

            requests = members.Select(m => m.Session.HostName == faultHost ? m.Request with { FaultInjection = fault } : m.Request with { FaultInjection = null }).ToList();
        }

        var loadBalancerUrls = Setting(nameof(LoadBalancerUrl), LoadBalancerUrl);
        var health = first.Request.Health;
        var fleetRequest = new FleetRequest
        {
            Members = members.Select((m, i) => new FleetMember(m.Session, m.Target, requests[i])).ToList(),
            BuildOn = BuildOn,
            BuildPath = buildPath,
            BatchSize = batchSize,
            BatchWait = Setting(nameof(BatchWait), BatchWait),
            ThrottleLimit = Setting(nameof(ThrottleLimit), ThrottleLimit),
            SkipStaticPool = Setting(nameof(SkipStaticPool), SkipStaticPool.ToBool()),
            LoadBalancer = loadBalancerUrls.Length == 0 ? null : new HealthRequest
            {
                Urls = loadBalancerUrls,
                ExpectedStatus = health.ExpectedStatus,
                Source = ProbeSource.Client,
                CheckPm2 = false,
                MaximumRetryCount = health.MaximumRetryCount,
                RetryInterval = health.RetryInterval,
                RequiredSuccesses = health.RequiredSuccesses,
                ProbeTimeout = health.ProbeTimeout,
            },
            User = first.Request.User,
        };

        IReadOnlyList<FleetMember> ordered;
        try
        {
            ordered = FleetOrchestrator.Order(fleetRequest.Members);
        }
        catch (AedDeployException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
            return;
        }

        var hostList = string.Join(", ", ordered.Select(m => m.Session.HostName));
        var injecting = requests.FirstOrDefault(r => r.FaultInjection is not null)?.FaultInjection;
        var action = $"Deploy '{gitRef}' to {ordered.Count} hosts ({hostList}), {batchSize} at a time{(injecting is null ? string.Empty : $", injecting {injecting}")}";
        if (!ShouldProcess($"{first.Target.AppName} on {hostList}", action))
        {
            foreach (var member in ordered)
            {
                WriteObject(RunEngine((log, token) => new DeployOrchestrator(member.Session, member.Target, log)
                    .PreflightAsync(member.Request.MinimumFreeDiskMegabytes, token, staticPool: !fleetRequest.SkipStaticPool)));
            }

            return;
        }

        var record = RunEngine((log, token) =>
        {
            if (buildsElsewhere)
            {
                BuildOn!.EnsureOpen();
            }

            return new FleetOrchestrator(log).DeployAsync(fleetRequest, token);
        }, first.Target.AppName);
        WriteObject(record);
        if (record.Outcome != DeploymentOutcome.Succeeded)
        {
            var rolledBack = record.Outcome == DeploymentOutcome.RolledBack;
            var message = rolledBack
                ? $"The fleet deploy of '{gitRef}' failed and every switched host was rolled back; the fleet is on the previous version. {record.Reason}"
                : $"The fleet deploy of '{gitRef}' failed. {record.Reason}";
            var output = record.Hosts.FirstOrDefault(h => h.HostName == record.FailedHost)?.AppOutput;
            message += output is { Length: > 0 } ? $"\nThe app's last output on {record.FailedHost}:\n{output}" : string.Empty;
            ThrowTerminatingError(ToErrorRecord(new AedDeployException(rolledBack ? "FleetDeploymentRolledBack" : "FleetDeploymentFailed", FailureKind.InvalidResult, message, record)));
        }
    }

    /// <summary>Reads -FaultInjection: Phase (one of the layout's phases), Kind, and an optional DelaySec into the phase.</summary>
    private (FaultInjection Fault, string Host) ReadFaultInjection(
        Hashtable spec, DeployLayout layout, DeployRequest request, string gitRef, IReadOnlyList<string> hosts, bool fleet, string? builderName = null)
    {
        var hostValue = spec.Keys.Cast<object>().FirstOrDefault(k => "Host".Equals(k.ToString(), StringComparison.OrdinalIgnoreCase)) is { } hostKey ? spec[hostKey]?.ToString() : null;
        // In a fleet, the phases of the host named: the build host builds and packs, the others fetch and receive.
        var phases = fleet
            ? DeployOrchestrator.FleetPhaseNames(request, builder: builderName is not null && builderName.Equals(hostValue, StringComparison.OrdinalIgnoreCase))
            : DeployOrchestrator.PhaseNames(layout, request);
        string Invalid(string what) =>
            $"-FaultInjection {what}. Give @{{ {(fleet ? "Host = '<host name>'; " : string.Empty)}Phase = '<phase>'; Kind = '<kind>'; DelaySec = <seconds> }} with Phase one of the phases "
            + $"this deploy runs ({string.Join(", ", phases)}) and Kind one of {string.Join(", ", Enum.GetNames<FaultKind>())}; DelaySec is optional"
            + (fleet ? $", and Host one of {string.Join(", ", hosts)}." : ".");
        var keys = spec.Keys.Cast<object>().Select(k => k.ToString() ?? string.Empty).ToList();
        var unknown = keys.FirstOrDefault(k => !new[] { "Phase", "Kind", "DelaySec", "Host" }.Contains(k, StringComparer.OrdinalIgnoreCase));
        if (unknown is not null)
        {
            ThrowArgumentError("FaultInjectionInvalid", Invalid($"has an unknown key '{unknown}'"), spec);
        }

        object? Value(string key) => keys.FirstOrDefault(k => k.Equals(key, StringComparison.OrdinalIgnoreCase)) is { } k ? spec[k] : null;
        var phase = phases.FirstOrDefault(p => p.Equals(Value("Phase")?.ToString(), StringComparison.OrdinalIgnoreCase));
        if (phase is null)
        {
            ThrowArgumentError("FaultInjectionInvalid", Invalid($"names no phase of this deploy ('{Value("Phase")}')"), spec);
        }

        if (!Enum.TryParse<FaultKind>(Value("Kind")?.ToString(), ignoreCase: true, out var kind))
        {
            ThrowArgumentError("FaultInjectionInvalid", Invalid($"has no valid Kind ('{Value("Kind")}')"), spec);
        }

        var delay = 0.0;
        if (Value("DelaySec") is { } rawDelay && (!LanguagePrimitives.TryConvertTo(rawDelay, System.Globalization.CultureInfo.InvariantCulture, out delay) || delay < 0 || delay > 3600))
        {
            ThrowArgumentError("FaultInjectionInvalid", Invalid($"has a DelaySec that is not a number of seconds from 0 to 3600 ('{rawDelay}')"), spec);
        }

        var host = hostValue is null ? (fleet ? null : hosts[0]) : hosts.FirstOrDefault(h => h.Equals(hostValue, StringComparison.OrdinalIgnoreCase));
        if (host is null)
        {
            ThrowArgumentError("FaultInjectionInvalid", Invalid(hostValue is null ? "names no Host, which a fleet deploy needs" : $"names a Host that is not deployed ('{hostValue}')"), spec);
        }

        var fault = new FaultInjection(phase!, kind, TimeSpan.FromSeconds(delay));
        WriteVerbose($"Rehearsal of '{gitRef}': {fault} will be injected{(fleet ? $" on {host}" : string.Empty)}.");
        return (fault, host!);
    }

    private Hashtable Load(string path, string environment)
    {
        try
        {
            return DeployConfiguration.Load(path, environment);
        }
        catch (AedDeployException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
            throw;
        }
    }

    /// <summary>
    /// A value: the parameter when it was given, else the configuration file's, else the parameter's default.
    /// A time in the file reads as the parameter would read it: a number is seconds.
    /// </summary>
    private T Setting<T>(string name, T value)
    {
        if (MyInvocation.BoundParameters.ContainsKey(name) || !configuration.ContainsKey(name))
        {
            return value;
        }

        var raw = configuration[name];
        if (typeof(T) == typeof(TimeSpan) && raw is not null)
        {
            try
            {
                raw = new TimeSpanSecondsAttribute { AllowZero = name is nameof(LockWaitTimeout) or nameof(BatchWait) }.Transform(null!, raw);
            }
            catch (ArgumentTransformationMetadataException ex)
            {
                ThrowArgumentError("ConfigurationValueInvalid", $"{ConfigurationPath}, '{Environment}': {name}: {ex.Message}", raw);
            }
        }

        try
        {
            return LanguagePrimitives.ConvertTo<T>(raw);
        }
        catch (PSInvalidCastException ex)
        {
            ThrowArgumentError("ConfigurationValueInvalid", $"{ConfigurationPath}, '{Environment}': {name} = '{raw}' is not a valid {typeof(T).Name}: {ex.Message}", raw);
            throw;
        }
    }

    private DeploySession OpenSession(string hostName)
    {
        var options = new ConnectionSettings
        {
            HostName = hostName,
            Port = Setting(nameof(Port), Port),
            UserName = Setting(nameof(UserName), UserName),
            KeyFilePath = Setting(nameof(KeyFilePath), KeyFilePath),
            KeyPassphrase = KeyPassphrase,
            Credential = Credential,
            KnownHostsPath = Setting(nameof(KnownHostsPath), KnownHostsPath),
            HostKeyFingerprint = Setting(nameof(HostKeyFingerprint), HostKeyFingerprint),
            AcceptNewHostKey = AcceptNewHostKey,
        }.ToOptions(this);
        return RunEngine((log, token) => DeploySession.OpenSshAsync(options, log.Verbose, token), $"{hostName}:{options.Port}");
    }
}
