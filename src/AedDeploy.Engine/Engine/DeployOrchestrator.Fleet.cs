using System.Globalization;

namespace AedDeploy.Engine;

/// <summary>A named slice of a deploy's plan: where a fleet deploy waits for every host before it goes on.</summary>
internal sealed record PlanStage(string Name, IReadOnlyList<DeployPhase> Phases)
{
    public const string Preflight = "Preflight";
    public const string Lock = "Lock";
    public const string Prepare = "Prepare";
    public const string Receive = "Receive";
    public const string Check = "Check";
    public const string GoLive = "GoLive";
    public const string Complete = "Complete";
}

/// <summary>A host's part in a fleet deploy: the one that builds, or one that receives the build.</summary>
internal enum FleetRole
{
    Builder,
    Receiver,
}

/// <summary>The archive of the build's outputs, pulled from the build host to a local file, and what it must hold.</summary>
internal sealed record FleetShipment(string ArchivePath, string Sha256, long Bytes, string Commit, string BuildId);

/// <summary>What one host of a fleet deploy knows about the fleet.</summary>
internal sealed class FleetContext(string fleetId, FleetRole role, string releaseId, bool skipStaticPool)
{
    public string FleetId => fleetId;

    public FleetRole Role => role;

    /// <summary>Every host's new release has the same id.</summary>
    public string ReleaseId => releaseId;

    /// <summary>No static pool is filled or pruned (-SkipStaticPool).</summary>
    public bool SkipStaticPool => skipStaticPool;

    /// <summary>Receivers: the archive to receive, set by the fleet once the build is pulled.</summary>
    public FleetShipment? Shipment { get; set; }

    /// <summary>The builder: how many files and bytes the build's outputs are.</summary>
    public (int Files, long Bytes)? Packed { get; set; }

    /// <summary>What the Identity phase found on this host.</summary>
    public BuildIdentity? Identity { get; set; }
}

public sealed partial class DeployOrchestrator
{
    /// <summary>How long one step of shipping a build (pack, pull, receive, identify, pool) may take.</summary>
    internal static readonly TimeSpan ShipTimeout = TimeSpan.FromMinutes(15);

    internal DeploySession Session => session;

    internal AppTarget Target => target;

    internal IDeployLog Log => log;

    /// <summary>This host's deploy as one member of a fleet: the fleet runs its stages (<see cref="FleetHost"/>).</summary>
    internal FleetHost ForFleet(DeployRequest request, FleetContext fleet, string user)
    {
        var record = NewRecord(request, fleet.FleetId, user, fleet.FleetId);
        var run = new DeployRun(request with { Build = request.Build with { ReleaseId = fleet.ReleaseId } }, record, new DeployLock(session, target, log)) { Fleet = fleet };
        var runner = new PhaseRunner(Activity, log, request.FaultInjection is null ? null : new FaultInjector(request.FaultInjection, DropConnectionAsync, log));
        return new FleetHost(this, run, runner);
    }

    /// <summary>The names of the phases one host of a fleet runs in each stage, for -FaultInjection.</summary>
    internal static IReadOnlyList<string> FleetPhaseNames(DeployRequest request, bool builder)
    {
        var orchestrator = new DeployOrchestrator(null!, new AppTarget("/srv/app", "app", DeployLayout.Release), NullDeployLog.Instance);
        var run = new DeployRun(request, new DeploymentRecord(), null!) { Fleet = new FleetContext("f", builder ? FleetRole.Builder : FleetRole.Receiver, "r", false) };
        return orchestrator.Plan(run).Where(p => p.When()).Select(p => p.Name).ToList();
    }

    /// <summary>
    /// A fleet host's preflight check: it serves the static pool (Initialize-DeployTarget -StaticPool wrote its nginx
    /// snippet), or a page from a switched host would get 404 for its new chunks from this one until it switches.
    /// </summary>
    private async Task<PreflightCheck> StaticPoolCheckAsync(CancellationToken cancellationToken)
    {
        var pool = new StaticPoolService(session, target, log);
        var found = await new RemoteRunner(session, log).RunAsync("[ -f \"$1\" ] && echo yes || echo no", cancellationToken, arguments: [pool.SnippetPath]).ConfigureAwait(false);
        return found.Output.Trim() == "yes"
            ? new("Static pool", true, $"{pool.SnippetPath} (nginx serves /_next/static/ from the pool)")
            : new("Static pool", false,
                $"{session.HostName} has no static pool for {target.AppName} ({pool.SnippetPath} is missing): during the rollout a page from a switched host would get 404 "
                + $"for its new chunks from this one. Set it up once with Initialize-DeployTarget -StaticPool -StaticPoolUpstream <the app's address> and add "
                + $"'{pool.IncludeLine}' to the app's nginx server block, or give -SkipStaticPool when /_next/static is served from elsewhere. Nothing was changed.",
                "FleetStaticPoolMissing");
    }

    private async Task<string?> FetchReceiverPhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        run.Record.ToRelease = run.Fleet!.ReleaseId;
        var build = await new BuildService(session, target, log).BuildAsync(run.Request.Build with { ReleaseId = run.Fleet.ReleaseId, ReceivesBuild = true }, cancellationToken)
            .ConfigureAwait(false);
        run.Build = build;
        run.Record.ToCommit = build.Commit;
        return $"{Short(build.Commit)} ({build.InstallMode}); the build comes from the build host";
    }

    private async Task<string?> PackPhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var (files, bytes) = await PackAsync(new RemoteRunner(session, log), target, run.RequireBuild(), cancellationToken).ConfigureAwait(false);
        run.Fleet!.Packed = (files, bytes);
        return $"{files} file(s), {bytes / (1024 * 1024.0):0.0} MiB to ship";
    }

    /// <summary>Lists what a built release ships (pack-release.sh): on a fleet's build host, or where an <see cref="Fleet.ExternalBuilder"/> built it.</summary>
    internal static async Task<(int Files, long Bytes)> PackAsync(RemoteRunner runner, AppTarget target, BuildResult build, CancellationToken cancellationToken)
    {
        var packed = await runner.RunScriptAsync("pack-release.sh", [target.AppPath, build.ReleaseId!], cancellationToken, ShipTimeout).ConfigureAwait(false);
        if (!packed.Succeeded)
        {
            throw new AedDeployException(
                "FleetPackFailed", FailureKind.InvalidOperation,
                $"Listing the build's outputs in {build.ReleasePath} on {runner.Shell.HostName} failed (exit {packed.ExitStatus}):\n{packed.Tail()}", build.ReleasePath);
        }

        var answer = RemoteAnswer.Lines(packed, "pack-release.sh", 2);
        if (!int.TryParse(answer[0], CultureInfo.InvariantCulture, out var files) || !long.TryParse(answer[1], CultureInfo.InvariantCulture, out var bytes))
        {
            throw RemoteAnswer.Invalid(packed, "pack-release.sh", $"'{Names.Printable(string.Join(' ', answer))}' is not a file count and a size");
        }

        return (files, bytes);
    }

    private async Task<string?> ReceivePhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var shipment = run.Fleet!.Shipment ?? throw new InvalidOperationException("The fleet runs Receive before it shipped the build.");
        var fetched = run.RequireBuild();
        var releaseId = fetched.ReleaseId!;
        CommandResult received;
        await using (var archive = new FileStream(shipment.ArchivePath, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true))
        {
            received = await new RemoteRunner(session, log).RunWithInputAsync(
                RemoteScripts.Command("receive-release.sh"), archive, cancellationToken, ShipTimeout, [target.AppPath, releaseId, shipment.Sha256, shipment.Commit]).ConfigureAwait(false);
        }

        if (!received.Succeeded)
        {
            var why = received.ExitStatus switch
            {
                ScriptExitCodes.ReceiveRelease.ArchiveMismatch => "the archive that arrived is not the one sent (its sha256 differs)",
                ScriptExitCodes.ReceiveRelease.ManifestMismatch => "a file of the build differs from the build host's after unpacking (the manifest check failed)",
                ScriptExitCodes.ReceiveRelease.CommitMismatch => $"the release was cloned at another commit than the build's {Short(shipment.Commit)} (was the branch pushed during the deploy?)",
                ScriptExitCodes.ReceiveRelease.ReleaseMissing => "the release folder is missing",
                ScriptExitCodes.ReceiveRelease.ExtractFailed => "the archive could not be unpacked",
                _ => $"exit {received.ExitStatus}",
            };
            throw new AedDeployException(
                "FleetReceiveFailed", FailureKind.InvalidResult,
                $"Receiving the build into {fetched.ReleasePath} on {session.HostName} failed: {why}. Nothing was switched.\n{received.Tail(5)}", fetched.ReleasePath);
        }

        var answer = RemoteAnswer.Lines(received, "receive-release.sh", 2);
        if (answer[1] != shipment.BuildId)
        {
            throw new AedDeployException(
                "FleetReceiveFailed", FailureKind.InvalidResult,
                $"The build received into {fetched.ReleasePath} on {session.HostName} has the build id '{Names.Printable(answer[1])}', not the build's {shipment.BuildId}. Nothing was switched.",
                fetched.ReleasePath);
        }

        var build = new BuildResult(session, target)
        {
            ReleaseId = releaseId,
            ReleasePath = fetched.ReleasePath,
            Ref = fetched.Ref,
            Commit = fetched.Commit,
            BuildId = shipment.BuildId,
            InstallMode = fetched.InstallMode,
            PreviousReleaseId = fetched.PreviousReleaseId,
            Duration = fetched.Duration,
        };
        var store = new ReleaseStore(session, target, log);
        var created = (await store.ListAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(r => r.Id == releaseId)?.CreatedAt ?? DateTimeOffset.UtcNow;
        await store.WriteRecordAsync(new ReleaseRecord(releaseId, build.Ref, build.Commit, build.BuildId, ReleaseStatus.Built, created, null, null), cancellationToken).ConfigureAwait(false);
        run.Build = build;
        run.Record.ToBuildId = build.BuildId;
        return $"{answer[0]} file(s), {shipment.Bytes / (1024 * 1024.0):0.0} MiB, checked against the build host's manifest";
    }

    private async Task<string?> IdentityPhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var build = run.RequireBuild();
        var result = await new RemoteRunner(session, log).RunScriptAsync("identify-build.js", [build.ReleasePath, target.EcosystemFile, target.AppName], cancellationToken, ShipTimeout)
            .ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new AedDeployException(
                "FleetIdentityFailed", FailureKind.InvalidOperation,
                $"Identifying the build in {build.ReleasePath} on {session.HostName} failed (exit {result.ExitStatus}):\n{result.Tail(5)}", build.ReleasePath);
        }

        var identity = RemoteAnswer.Json(result, "identify-build.js", root => new BuildIdentity(
            root.GetProperty("buildId").GetString() ?? string.Empty,
            root.GetProperty("staticHash").GetString() ?? string.Empty,
            root.GetProperty("serverHash").GetString() ?? string.Empty,
            root.GetProperty("keyHash").GetString() ?? string.Empty,
            root.GetProperty("keySource").GetString() ?? string.Empty,
            root.GetProperty("actions").GetInt32(),
            root.GetProperty("fingerprint").GetString() ?? string.Empty));
        run.Fleet!.Identity = identity;
        var actions = identity.Actions == 0 ? "no Server Actions" : $"{identity.Actions} Server Action(s), key from {identity.KeySource}";
        return $"{identity.BuildId}, fingerprint {identity.Fingerprint[..Math.Min(12, identity.Fingerprint.Length)]}, {actions}";
    }

    private async Task<string?> PoolStaticPhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var releaseId = run.RequireBuild().ReleaseId!;
        var result = await new RemoteRunner(session, log).RunScriptAsync("pool-static.sh", ["fill", target.AppPath, releaseId], cancellationToken, ShipTimeout).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new AedDeployException(
                "StaticPoolFillFailed", FailureKind.InvalidOperation,
                $"Linking the static files of release {releaseId} into the static pool {target.AppPath}/static on {session.HostName} failed (exit {result.ExitStatus}):\n{result.Tail(5)}",
                releaseId);
        }

        var answer = RemoteAnswer.Lines(result, "pool-static.sh", 3);
        if (answer[2] != "0")
        {
            log.Warning($"{answer[2]} static file path(s) of release {releaseId} hold other content than an earlier build's on {session.HostName} (a fixed build id, as with "
                + "-DeploymentId, shares paths such as <build id>/_buildManifest.js between builds): those paths are left out of the pool, so each host's app serves its own "
                + "version's file, and a page of the new version served by a switched host may not find them on a host that has not switched yet.");
        }

        return $"{answer[0]} file(s) linked into the pool, {answer[1]} already there{(answer[2] == "0" ? string.Empty : $", {answer[2]} collision(s)")}";
    }

    /// <summary>After a fleet succeeded: the pool drops the files no release holds any more. Only saves disk, so a failure warns.</summary>
    private async Task<string?> PrunePoolAsync(CancellationToken cancellationToken)
    {
        try
        {
            var result = await new RemoteRunner(session, log).RunScriptAsync("pool-static.sh", ["prune", target.AppPath], cancellationToken, ShipTimeout).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                log.Warning($"Pruning the static pool {target.AppPath}/static on {session.HostName} failed (exit {result.ExitStatus}); it keeps files it no longer needs:\n{result.Tail(3)}");
                return "; pool prune failed";
            }

            return $"; pool pruned {RemoteAnswer.Lines(result, "pool-static.sh", 1)[0]}";
        }
        catch (AedDeployException ex) when (ex.Kind is not FailureKind.Connection)
        {
            // A lost connection is the deploy's to handle; anything else here only costs disk.
            log.Warning($"Pruning the static pool {target.AppPath}/static on {session.HostName} failed; it keeps files it no longer needs: {PhaseRunner.ReasonOf(ex)}");
            return "; pool prune failed";
        }
    }

    /// <summary>
    /// One host of a fleet deploy: the fleet runs its plan stage by stage, and rolls it back and cleans it up
    /// exactly as a single-host deploy does its own.
    /// </summary>
    internal sealed class FleetHost(DeployOrchestrator orchestrator, DeployRun run, PhaseRunner runner)
    {
        private readonly Dictionary<string, IReadOnlyList<DeployPhase>> stages = orchestrator.Stages(run).ToDictionary(s => s.Name, s => s.Phases);

        public DeploySession Session => orchestrator.Session;

        public AppTarget Target => orchestrator.Target;

        public IDeployLog Log => orchestrator.Log;

        public string HostName => orchestrator.Session.HostName;

        public DeployRun Run => run;

        public DeploymentRecord Record => run.Record;

        public FleetContext Fleet => run.Fleet!;

        /// <summary>
        /// The host has live changes to undo (its Switch began): a fleet failure rolls it back. A takeover's Repair
        /// touched live state too, but only to put it right, and has nothing to undo.
        /// </summary>
        public bool Switched => runner.HasUndo;

        /// <summary>Runs one stage's phases; returns the failure that stopped them, or null.</summary>
        public Task<Exception?> RunStageAsync(string stage, CancellationToken cancellationToken) =>
            runner.RunAsync(stages.TryGetValue(stage, out var phases) ? phases : [], run.Record, cancellationToken);

        /// <summary>After the fleet failed: reconnects if needed, undoes what went live, marks the new release failed.</summary>
        public Task RecoverAsync() => orchestrator.RecoverAsync(run, runner);

        /// <summary>Always, last: stops the lease renewal, releases the lock, writes the history.</summary>
        public Task CleanUpAsync() => orchestrator.CleanUpAsync(run);
    }
}
