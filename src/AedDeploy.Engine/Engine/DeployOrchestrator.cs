using System.Diagnostics;
using System.Globalization;

namespace AedDeploy.Engine;

/// <summary>Everything a composed deploy needs besides the target.</summary>
public sealed record DeployRequest
{
    public required BuildRequest Build { get; init; }

    /// <summary>What proves the new version healthy; the rollback proves the old one with the same URLs and status.</summary>
    public required HealthRequest Health { get; init; }

    /// <summary>
    /// Health must prove the new build answers (and the rollback's, the old one) wherever the answers show a build
    /// id: an X-Build-Id header or the id in the body. On by default; off only when asked (-SkipBuildIdCheck).
    /// </summary>
    public bool VerifyBuildId { get; init; } = true;

    /// <summary>Boots a new release on a spare port before the live workers are touched (Release layout).</summary>
    public bool BootTest { get; init; } = true;

    public TimeSpan BootTestTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public string? CachePath { get; init; }

    public string NginxTestCommand { get; init; } = NginxCacheService.DefaultTestCommand;

    public string NginxReloadCommand { get; init; } = NginxCacheService.DefaultReloadCommand;

    /// <summary>A failed cache purge fails the deploy (and rolls it back) instead of warning.</summary>
    public bool StrictCachePurge { get; init; }

    public TimeSpan LockWaitTimeout { get; init; } = TimeSpan.Zero;

    /// <summary>How long the deploy lock lives without a renewal: a deploy that dies is taken over this long after its last renewal.</summary>
    public TimeSpan LockLease { get; init; } = DeployLock.DefaultLease;

    public TimeSpan ReloadTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How many releases to keep (Release layout); the live one and the rollback target are always kept.</summary>
    public int KeepReleases { get; init; } = 5;

    public long MinimumFreeDiskMegabytes { get; init; } = 512;

    /// <summary>How many earlier releases' static files a new release carries (Release layout), the live one first; 0 turns skew protection off.</summary>
    public int StaticRetentionReleases { get; init; } = 3;

    /// <summary>An earlier release's static files are carried while it stopped serving less than this long ago.</summary>
    public TimeSpan StaticRetentionAge { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Next.js's deploymentId for the new release (Release layout: NEXT_DEPLOYMENT_ID at build, and at start from the release's .env.production.local); null leaves it unset.</summary>
    public string? DeploymentId { get; init; }

    /// <summary>A fault to inject for a rehearsal; never set unless asked for.</summary>
    public FaultInjection? FaultInjection { get; set; }

    /// <summary>Who deploys: user@machine.</summary>
    public string User { get; init; } = $"{Environment.UserName}@{Environment.MachineName}";
}

/// <summary>
/// The composed deploy (Invoke-ZeroDowntimeDeploy): each layout's phases, declared in <see cref="Plan"/> and run by
/// the <see cref="PhaseRunner"/>. Anything that fails after a live-touching phase began is rolled back to the
/// backup and proven healthy again. The lock is always released and every run leaves a history entry, also on
/// Ctrl+C, on an unexpected exception and when the connection drops (the session is opened again for that).
/// </summary>
public sealed partial class DeployOrchestrator(DeploySession session, AppTarget target, IDeployLog log)
{
    private const string Activity = "Invoke-ZeroDowntimeDeploy";
    private static readonly TimeSpan CleanupTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The read-only checks a deploy starts with; -WhatIf runs only these. <paramref name="staticPool"/>: a fleet host
    /// must serve a static pool (FleetStaticPoolMissing).
    /// </summary>
    public async Task<PreflightReport> PreflightAsync(long minimumFreeDiskMegabytes, CancellationToken cancellationToken, bool staticPool = false)
    {
        var runner = new RemoteRunner(session, log);
        var checks = new List<PreflightCheck> { new("Connection", true, $"{session} ({session.HostKeyAlgorithm} {session.HostKeyFingerprint})") };
        string? liveRelease = null;
        string? liveBuildId = null;
        TargetConsistency? consistency = null;

        var layout = await runner.RunAsync(
            """
            if [ -d "$1/.git" ]; then echo checkout; elif [ -L "$1/current" ]; then echo releases; elif [ -d "$1" ]; then echo folder; else echo missing; fi
            df -Pk -- "$1" 2>/dev/null | awk 'NR == 2 { print $4 }'
            """,
            cancellationToken, arguments: [target.AppPath]).ConfigureAwait(false);
        var facts = layout.Output.Split('\n', StringSplitOptions.TrimEntries);
        var expected = target.Layout == DeployLayout.Release ? "releases" : "checkout";
        checks.Add(new("Layout", facts[0] == expected,
            facts[0] == expected ? $"{target.Layout} layout at {target.AppPath}"
            : $"{target.AppPath} is {(facts[0] == "missing" ? "missing" : $"not a {target.Layout} layout ({facts[0]})")}"
              + (target.Layout == DeployLayout.Release ? ": set it up with Initialize-DeployTarget" : string.Empty)));

        var freeMegabytes = facts.Length > 1 && long.TryParse(facts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var kilobytes) ? kilobytes / 1024 : 0;
        checks.Add(new("Free disk", freeMegabytes >= minimumFreeDiskMegabytes, $"{freeMegabytes} MB free, {minimumFreeDiskMegabytes} MB needed"));

        try
        {
            var instances = await new Pm2Client(runner, target).ListRequiredAsync(cancellationToken).ConfigureAwait(false);
            var online = instances.Count(p => p.IsOnline);
            checks.Add(new("PM2 app", online == instances.Count, $"{online}/{instances.Count} instance(s) of {target.AppName} online"));
            checks.Add(await AppFolderCheck.CheckAsync(runner, target, instances, cancellationToken).ConfigureAwait(false));
        }
        catch (AedDeployException ex)
        {
            checks.Add(new("PM2 app", false, ex.Message));
        }

        if (checks[1].Passed)
        {
            if (target.Layout == DeployLayout.Release)
            {
                liveRelease = await new ReleaseStore(session, target, log).GetLiveIdAsync(cancellationToken).ConfigureAwait(false);
            }

            var live = await new ArtifactInspector(session, target, log)
                .InspectAsync(liveRelease is null ? target.LivePath : target.ReleasePath(liveRelease), liveRelease, cancellationToken).ConfigureAwait(false);
            liveBuildId = live.BuildId;
            checks.Add(new("Rollback target", live.IsComplete,
                live.IsComplete ? $"the live build {live.BuildId} is complete" : "the live build is not complete: " + string.Join("; ", live.Failures.Select(f => f.Detail))));

            try
            {
                consistency = await new TargetInspector(session, target, log).InspectAsync(cancellationToken).ConfigureAwait(false);
                checks.Add(new("Consistency", consistency.IsConsistent, consistency.IsConsistent
                    ? $"the workers run {consistency.LiveFolder}{(consistency.RollbackTarget is null ? string.Empty : $", the last verified release {consistency.RollbackTarget}")}"
                    : string.Join("; ", consistency.Problems)));
            }
            catch (AedDeployException ex)
            {
                checks.Add(new("Consistency", false, ex.Message));
            }
        }

        if (staticPool)
        {
            checks.Add(await StaticPoolCheckAsync(cancellationToken).ConfigureAwait(false));
        }

        var holder = await new DeployLock(session, target, log).ShowAsync(cancellationToken).ConfigureAwait(false);
        checks.Add(new("Deploy lock", holder is null || holder.IsExpired,
            holder is null ? "free" : holder.IsExpired ? $"held by {holder}: a deploy takes it over and repairs what it left" : $"held by {holder}"));
        return new PreflightReport(session, target) { Checks = checks, LiveRelease = liveRelease, LiveBuildId = liveBuildId, Lock = holder, Consistency = consistency };
    }

    public async Task<DeploymentRecord> DeployAsync(DeployRequest request, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var now = DateTimeOffset.UtcNow;
        var record = NewRecord(request, ReleaseStore.NewReleaseId(now) + "-" + Guid.NewGuid().ToString("N")[..6], request.User, fleetId: null);
        var run = new DeployRun(request, record, new DeployLock(session, target, log));
        var runner = new PhaseRunner(Activity, log, request.FaultInjection is null ? null : new FaultInjector(request.FaultInjection, DropConnectionAsync, log));
        Exception? failure = null;
        try
        {
            failure = await runner.RunAsync(Plan(run), record, cancellationToken).ConfigureAwait(false);
            if (failure is null)
            {
                record.Outcome = DeploymentOutcome.Succeeded;
            }
            else
            {
                if (failure is OperationCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    record.Reason = "cancelled (injected by -FaultInjection)";
                }

                await RecoverAsync(run, runner).ConfigureAwait(false);
            }
        }
        finally
        {
            record.Duration = stopwatch.Elapsed;
            await CleanUpAsync(run).ConfigureAwait(false);
            log.Progress(Activity, record.Outcome.ToString(), 100);
        }

        // Ctrl+C ends as a stopped pipeline once everything is cleaned up; an injected cancel is an ordinary failed deploy.
        if (failure is OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            throw failure;
        }

        return record;
    }

    /// <summary>A new deploy's record on this target, before any phase ran.</summary>
    private DeploymentRecord NewRecord(DeployRequest request, string id, string user, string? fleetId) => new()
    {
        Id = id,
        FleetId = fleetId,
        HostName = session.HostName,
        AppName = target.AppName,
        AppPath = target.AppPath,
        Layout = target.Layout,
        Ref = request.Build.Ref,
        User = user,
        FaultInjection = request.FaultInjection?.ToString(),
    };

    /// <summary>
    /// The deploy's phases for the target's layout, in order: its stages one after the other. What each changes:
    /// Release touches nothing live before the Switch (the new release is built, validated and boot-tested aside);
    /// InPlace changes the live checkout from the Build on (next build rewrites the .next the workers read). The undo
    /// of every live phase is the rollback to the backup, run once.
    /// </summary>
    internal IReadOnlyList<DeployPhase> Plan(DeployRun run) => [.. Stages(run).SelectMany(s => s.Phases)];

    /// <summary>
    /// The plan in stages, the points where a fleet deploy waits for every host (<see cref="Fleet.FleetOrchestrator"/>):
    /// a single host runs them back to back. The fleet's own phases (Fetch, Pack, Receive, Identity, PoolStatic) are
    /// left out of a single-host deploy by their condition, so its phases, their order and names stay as they are.
    /// </summary>
    internal IReadOnlyList<PlanStage> Stages(DeployRun run)
    {
        var request = run.Request;
        var fleet = run.Fleet;
        var rollback = new PhaseUndo("Rollback", token => RollBackAsync(run, token));
        DeployPhase preflight = new() { Name = "Preflight", Percent = 2, Run = token => PreflightPhaseAsync(run, token) };
        DeployPhase lockPhase = new() { Name = "Lock", Percent = 5, Run = token => LockPhaseAsync(run, token) };
        // Only after a takeover: what the abandoned deploy left is put right before this one changes anything.
        DeployPhase repair = new() { Name = "Repair", Percent = 8, When = () => run.Abandoned is not null, TouchesLive = true, Run = token => RepairPhaseAsync(run, token) };
        DeployPhase backup = new() { Name = "Backup", Percent = 10, Run = token => BackupPhaseAsync(run, token) };
        DeployPhase validate = new() { Name = "Validate", Percent = 60, Run = token => ValidatePhaseAsync(run, token) };
        DeployPhase reload = new() { Name = "Reload", Percent = 75, TouchesLive = true, Undo = rollback, Run = token => ReloadPhaseAsync(run, token) };
        DeployPhase health = new() { Name = "Health", Percent = 85, Run = token => HealthPhaseAsync(run, token) };
        DeployPhase cachePurge = new()
        {
            Name = "CachePurge", Percent = 92, When = () => request.CachePath is not null, TouchesLive = true, Undo = rollback, Run = token => CachePurgePhaseAsync(run, token),
        };
        if (target.Layout == DeployLayout.InPlace)
        {
            return
            [
                new(PlanStage.Preflight, [preflight]),
                new(PlanStage.Lock, [lockPhase]),
                new(PlanStage.Prepare,
                [
                    repair, backup,
                    new() { Name = "Fetch", Percent = 12, Run = token => FetchPhaseAsync(run, token) },
                    new() { Name = "Build", Percent = 15, TouchesLive = true, Undo = rollback, Run = token => BuildPhaseAsync(run, token) },
                ]),
                new(PlanStage.Check, [validate]),
                new(PlanStage.GoLive, [reload, health, cachePurge]),
                new(PlanStage.Complete, []),
            ];
        }

        return
        [
            new(PlanStage.Preflight, [preflight]),
            new(PlanStage.Lock, [lockPhase]),
            new(PlanStage.Prepare,
            [
                repair, backup,
                new() { Name = "Build", Percent = 15, When = () => fleet?.Role != FleetRole.Receiver, Run = token => BuildPhaseAsync(run, token) },
                // A fleet's other hosts clone the same commit and install its dependencies while the build runs; the build itself is shipped.
                new() { Name = "Fetch", Percent = 15, When = () => fleet?.Role == FleetRole.Receiver, Run = token => FetchReceiverPhaseAsync(run, token) },
                new() { Name = "Pack", Percent = 55, When = () => fleet?.Role == FleetRole.Builder, Run = token => PackPhaseAsync(run, token) },
            ]),
            new(PlanStage.Receive, [new() { Name = "Receive", Percent = 58, When = () => fleet?.Role == FleetRole.Receiver, Run = token => ReceivePhaseAsync(run, token) }]),
            new(PlanStage.Check,
            [
                validate,
                // Before CarryStatic, which adds other releases' files to .next/static.
                new() { Name = "Identity", Percent = 61, When = () => fleet is not null, Run = token => IdentityPhaseAsync(run, token) },
                new() { Name = "CarryStatic", Percent = 62, When = () => request.StaticRetentionReleases > 0, Run = token => CarryStaticPhaseAsync(run, token) },
                new() { Name = "PoolStatic", Percent = 63, When = () => fleet is not null && !fleet.SkipStaticPool, Run = token => PoolStaticPhaseAsync(run, token) },
                new() { Name = "DeploymentId", Percent = 64, When = () => request.DeploymentId is not null, Run = token => DeploymentIdPhaseAsync(run, token) },
                new() { Name = "BootTest", Percent = 65, When = () => request.BootTest, Run = token => BootTestPhaseAsync(run, token) },
            ]),
            new(PlanStage.GoLive,
            [
                new() { Name = "Switch", Percent = 70, TouchesLive = true, Undo = rollback, Run = token => SwitchPhaseAsync(run, token) },
                reload, health, cachePurge,
            ]),
            new(PlanStage.Complete, [new() { Name = "Finalize", Percent = 96, Run = token => FinalizePhaseAsync(run, token) }]),
        ];
    }

    /// <summary>The names of the phases a deploy of <paramref name="request"/> runs on a <paramref name="layout"/> target, in order.</summary>
    public static IReadOnlyList<string> PhaseNames(DeployLayout layout, DeployRequest request)
    {
        // Only the declaration is read: no phase runs, so the orchestrator needs no session.
        var orchestrator = new DeployOrchestrator(null!, new AppTarget("/srv/app", "app", layout), NullDeployLog.Instance);
        return orchestrator.Plan(new DeployRun(request, new DeploymentRecord(), null!)).Where(p => p.When()).Select(p => p.Name).ToList();
    }

    private async Task<string?> PreflightPhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var preflight = await PreflightAsync(run.Request.MinimumFreeDiskMegabytes, cancellationToken, staticPool: run.Fleet is { SkipStaticPool: false }).ConfigureAwait(false);
        run.Preflight = preflight;

        // A held lock is the Lock phase's to report (it may wait for it). While it is held the target is
        // mid-deploy, so drift is not conclusive: a live holder is waited for (and the target checked once the
        // lock is ours), an abandoned one is taken over and the Repair phase fixes what it left.
        string[] deferred = preflight.Lock is null ? ["Deploy lock"] : ["Deploy lock", "Consistency", "PM2 app"];
        var blocking = preflight.Checks.FirstOrDefault(c => !c.Passed && !deferred.Contains(c.Name));
        return blocking is null ? string.Join("; ", preflight.Checks.Select(c => $"{c.Name}: {c.Detail}"))
            : blocking.Name == "Consistency" && preflight.Consistency is not null ? throw TargetInspector.Drifted(target, session.HostName, preflight.Consistency.Problems, preflight)
            : throw new AedDeployException(blocking.ErrorId ?? "PreflightFailed", FailureKind.InvalidOperation, $"{blocking.Name}: {blocking.Detail}", preflight);
    }

    private async Task<string?> LockPhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var record = run.Record;
        var owner = new LockInfo { DeployId = record.Id, User = record.User, Ref = record.Ref, StartedAt = record.StartedAt };
        run.Abandoned = await run.Lock.AcquireAsync(owner, run.Request.LockWaitTimeout, run.Request.LockLease, cancellationToken).ConfigureAwait(false);
        run.LockHeld = true;
        run.Renewal = run.Lock.StartRenewing(record.Id, DeployLock.RenewalInterval(run.Request.LockLease));
        if (run.Abandoned is null && run.Preflight?.Lock is not null)
        {
            // We waited for a deploy that ended: the target is checked now that it is ours.
            await new TargetInspector(session, target, log).RequireConsistentAsync(cancellationToken).ConfigureAwait(false);
        }

        return run.Abandoned is null ? null : $"took over the lock of abandoned deploy {run.Abandoned.DeployId}";
    }

    private async Task<string?> RepairPhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var repaired = await new TargetRepairer(session, target, log)
            .TakeOverAsync(run.Abandoned!, run.Record.Id, run.Record.User, run.Request.Health.ForRollback(null), run.Request.VerifyBuildId, run.Request.ReloadTimeout, cancellationToken).ConfigureAwait(false);
        var reloaded = repaired.ReloadedUnhealthy ? "; its workers answered unhealthy and were reloaded once" : string.Empty;
        return repaired.Fixed.Count == 0 ? $"consistent{reloaded}; proven healthy" : $"repaired ({string.Join("; ", repaired.Fixed)}){reloaded}; {repaired.ReleaseId ?? target.AppPath} healthy";
    }

    private async Task<string?> BackupPhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var backup = await new BackupService(session, target, log).BackupAsync(cancellationToken).ConfigureAwait(false);
        run.Backup = backup;
        run.Record.FromCommit = backup.Commit;
        run.Record.FromBuildId = backup.BuildId;
        run.Record.FromRelease = backup.ReleaseId;
        return $"{backup.ReleaseId ?? backup.BackupPath} ({backup.BuildId})";
    }

    private async Task<string?> FetchPhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        run.Commit = await new BuildService(session, target, log).ResolveInPlaceAsync(run.Request.Build.Ref, cancellationToken).ConfigureAwait(false);
        run.Record.ToCommit = run.Commit;
        return $"{run.Request.Build.Ref} is {Short(run.Commit)}";
    }

    private async Task<string?> BuildPhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var request = run.Request.Build;
        if (target.Layout == DeployLayout.Release)
        {
            // The release is named before it is made, so that a build cut short still leaves a record to mark.
            run.Record.ToRelease = request.ReleaseId ?? ReleaseStore.NewReleaseId(DateTimeOffset.UtcNow);
        }

        var build = await new BuildService(session, target, log).BuildAsync(
            request with
            {
                BuildCommand = run.Request.DeploymentId is { } deploymentId ? DeploymentIdService.BuildCommand(request.BuildCommand, deploymentId) : request.BuildCommand,
                ReleaseId = run.Record.ToRelease,
                Commit = run.Commit,
            },
            cancellationToken).ConfigureAwait(false);
        run.Build = build;
        run.Record.ToCommit = build.Commit;
        run.Record.ToBuildId = build.BuildId;
        run.Record.ToRelease = build.ReleaseId;
        var cache = build.BuildCache is "reflink" or "copy" ? $", build cache {build.BuildCache} {build.BuildCacheBytes / (1024 * 1024.0):0} MiB" : string.Empty;
        return $"{Short(build.Commit)} → {build.BuildId} ({build.InstallMode}{cache})";
    }

    private async Task<string?> ValidatePhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var build = run.RequireBuild();
        var report = await new ArtifactInspector(session, target, log).RequireCompleteAsync(build.ReleasePath, build.ReleaseId, "The new build", cancellationToken).ConfigureAwait(false);
        return $"{report.Checks.Count} checks passed";
    }

    private async Task<string?> CarryStaticPhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var request = run.Request;
        var carried = await new StaticCarryService(session, target, log)
            .CarryWindowAsync(run.RequireBuild().ReleaseId!, request.StaticRetentionReleases, request.StaticRetentionAge, cancellationToken).ConfigureAwait(false);
        return carried.ToString();
    }

    private async Task<string?> DeploymentIdPhaseAsync(DeployRun run, CancellationToken cancellationToken) =>
        await new DeploymentIdService(session, target, log).WriteAsync(run.RequireBuild().ReleaseId!, run.Request.DeploymentId!, cancellationToken).ConfigureAwait(false);

    private Task<string?> BootTestPhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var health = run.Request.Health;
        var probePath = health.Urls.Count > 0 ? health.Urls[0].PathAndQuery : "/";
        return new BootTester(session, target, log)
            .RequireBootAsync(run.RequireBuild().ReleasePath, probePath, health.ExpectedStatus, run.Request.BootTestTimeout, cancellationToken)!;
    }

    private async Task<string?> SwitchPhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var releaseId = run.RequireBuild().ReleaseId!;
        await new ReleaseStore(session, target, log).SwitchAsync(releaseId, cancellationToken).ConfigureAwait(false);
        return $"current → {releaseId}";
    }

    private async Task<string?> ReloadPhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var reload = await new ReloadService(session, target, log).ReloadAsync(run.Request.ReloadTimeout, cancellationToken, previousCommit: run.Backup?.Commit).ConfigureAwait(false);
        run.Reload = reload;
        return $"{reload.Instances} instance(s) reloaded{(reload.Warnings.Count > 0 ? $"; {reload.Warnings.Count} warning(s)" : string.Empty)}";
    }

    private async Task<string?> HealthPhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var request = run.Request;
        var expectation = request.VerifyBuildId ? request.Health.WithBuildId(run.RequireBuild().BuildId) : request.Health;
        var health = await new HealthService(session, target, log).CheckAsync(expectation, cancellationToken).ConfigureAwait(false);
        if (!health.Healthy)
        {
            throw new AedDeployException("AppUnhealthy", FailureKind.InvalidResult, $"The new version is not healthy: {string.Join("; ", health.Problems)}", health)
            {
                AppOutput = run.Reload is null ? null : await new ReloadService(session, target, log).ReadAppOutputSinceAsync(run.Reload, cancellationToken).ConfigureAwait(false),
            };
        }

        run.Record.HealthProof = health.Proof;
        return $"healthy in {health.Duration.TotalSeconds:0.0} s, {HealthService.Describe(health.Proof)}";
    }

    private async Task<string?> CachePurgePhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var request = run.Request;
        var cleared = await new NginxCacheService(session, log).ClearAsync(request.CachePath!, request.NginxTestCommand, request.NginxReloadCommand, cancellationToken).ConfigureAwait(false);
        if (cleared.Problem is null)
        {
            return $"{cleared.FilesRemoved} file(s) removed, nginx reloaded";
        }

        if (request.StrictCachePurge)
        {
            throw new AedDeployException("NginxCacheClearFailed", FailureKind.InvalidOperation, cleared.Problem, cleared);
        }

        log.Warning($"The nginx cache purge failed; the deploy goes on: {cleared.Problem}");
        return $"warning: {cleared.Problem}";
    }

    private async Task<string?> FinalizePhaseAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var build = run.RequireBuild();
        // From here the release may be recorded Verified and the rollback target: a rollback after this takes both back.
        run.FinalizeStarted = true;
        var store = new ReleaseStore(session, target, log);
        var releases = await store.ListAsync(cancellationToken).ConfigureAwait(false);
        var built = releases.FirstOrDefault(r => r.Id == build.ReleaseId)
            ?? throw new AedDeployException("ReleaseMissing", FailureKind.InvalidOperation, $"Release {build.ReleaseId} is no longer under {target.ReleasesPath} on {session.HostName}.", build);
        await store.WriteRecordAsync(
            new ReleaseRecord(built.Id, build.Ref, build.Commit, build.BuildId, ReleaseStatus.Verified, built.CreatedAt ?? DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null),
            cancellationToken).ConfigureAwait(false);
        await store.SetRollbackTargetAsync(built.Id, cancellationToken).ConfigureAwait(false);

        // Older releases stay for a while: clients of the old version still ask for its hashed chunks.
        var prunable = releases.Where(r => r.Id != built.Id && !r.IsLive && !r.IsRollbackTarget).OrderBy(r => r.CreatedAt ?? DateTimeOffset.MinValue).ThenBy(r => r.Id).ToList();
        var excess = releases.Count - Math.Max(run.Request.KeepReleases, 2);
        var doomed = prunable.Take(Math.Max(0, excess)).Select(r => r.Id).ToList();
        if (doomed.Count > 0)
        {
            await store.RemoveAsync(doomed, cancellationToken).ConfigureAwait(false);
        }

        var pool = run.Fleet is { SkipStaticPool: false } ? await PrunePoolAsync(cancellationToken).ConfigureAwait(false) : null;
        return $"verified; pruned {doomed.Count}{pool}";
    }

    /// <summary>After a failure: the connection back if it dropped, the live state undone, the new release marked failed.</summary>
    private async Task RecoverAsync(DeployRun run, PhaseRunner runner)
    {
        var record = run.Record;
        using var cleanup = new CancellationTokenSource(CleanupTimeout);
        if (!await EnsureConnectedAsync(record, cleanup.Token).ConfigureAwait(false))
        {
            if (runner.HasUndo)
            {
                log.Warning($"ROLLBACK NOT POSSIBLE on {session.HostName}: the connection is gone. The live state may be half-changed: run Repair-DeployTarget once the host is reachable.");
            }

            return;
        }

        if (runner.HasUndo)
        {
            var undoFailure = await runner.UndoAsync(record, cleanup.Token).ConfigureAwait(false);
            if (undoFailure is null)
            {
                if (run.FinalizeStarted && run.Backup?.ReleaseId is { } restored && run.Build?.ReleaseId is { } undone)
                {
                    // Finalize may have recorded the new release Verified and the rollback target before the failure: the
                    // restored release is both again, or the target would look drifted and a repair would bring the failed one back.
                    await TryAsync("taking back the failed release's Verified record", async token =>
                    {
                        var store = new ReleaseStore(session, target, log);
                        var built = (await store.ListAsync(token).ConfigureAwait(false)).FirstOrDefault(r => r.Id == undone);
                        await store.WriteRecordAsync(
                            new ReleaseRecord(undone, run.Build.Ref, run.Build.Commit, run.Build.BuildId, ReleaseStatus.Failed, built?.CreatedAt ?? DateTimeOffset.UtcNow, null,
                                $"{record.ErrorId}: rolled back ({record.Reason})"),
                            token).ConfigureAwait(false);
                        await store.SetRollbackTargetAsync(restored, token).ConfigureAwait(false);
                    }, cleanup.Token).ConfigureAwait(false);
                }

                record.Outcome = DeploymentOutcome.RolledBack;
                log.Warning($"The deploy failed ({record.Reason}) and was rolled back: {run.Backup?.ReleaseId ?? run.Backup?.Commit} is serving again.");
            }
            else
            {
                record.Reason += $"; the rollback failed too: {PhaseRunner.ReasonOf(undoFailure)}";
                log.Warning($"ROLLBACK FAILED on {session.HostName}: {undoFailure.Message}");
            }
        }

        // Under the lock nothing else builds, so a release left Building (a build cut by a dropped connection) is this deploy's.
        if (run.LockHeld && target.Layout == DeployLayout.Release)
        {
            await TryAsync("marking the failed release", token => new TargetRepairer(session, target, log).MarkUnfinishedReleasesAsync(record, token), cleanup.Token).ConfigureAwait(false);
        }
    }

    private async Task<string?> RollBackAsync(DeployRun run, CancellationToken cancellationToken)
    {
        var backup = run.Backup ?? throw new AedDeployException("NoBackup", FailureKind.InvalidOperation, "There is no backup to go back to.", target.AppPath);
        var request = run.Request;
        if (target.Layout == DeployLayout.Release && request.StaticRetentionReleases > 0 && run.Build?.ReleaseId is { } failed && backup.ReleaseId is { } restoring)
        {
            // Before the restored release's workers start: tabs that loaded a page of the failed version keep loading its chunks.
            await TryAsync($"carrying the static files of {failed} into {restoring}",
                async token => log.Verbose($"Rollback: {await new StaticCarryService(session, target, log).CarryAsync(restoring, [failed], token).ConfigureAwait(false)}."),
                cancellationToken).ConfigureAwait(false);
        }

        // The rollback proves the old version with the same URLs and status, not the new version's content,
        // and, as the deploy proved the new build, that the old build is the one answering.
        var health = request.Health.ForRollback(request.VerifyBuildId ? backup.BuildId : null);
        var restored = await new RestoreService(session, target, log).RestoreAsync(backup, health, request.ReloadTimeout, cancellationToken).ConfigureAwait(false);
        if (request.CachePath is not null)
        {
            // nginx may have cached what the failed version served (during the reload and health check, or after
            // the cache purge): emptied again, so that it serves the old version's pages. Files only: a missing file
            // is a miss, and nginx is not reloaded (that would reset keep-alive clients once more).
            var cleared = await new NginxCacheService(session, log)
                .ClearAsync(request.CachePath, request.NginxTestCommand, request.NginxReloadCommand, cancellationToken, reload: false).ConfigureAwait(false);
            if (cleared.Problem is not null)
            {
                log.Warning($"After the rollback, emptying the nginx cache failed; it may still serve pages of the failed version: {cleared.Problem}");
            }
        }

        return $"{restored.ReleaseId ?? restored.Commit} serving again, healthy";
    }

    private async Task CleanUpAsync(DeployRun run)
    {
        if (run.Renewal is not null)
        {
            await run.Renewal.DisposeAsync().ConfigureAwait(false);
        }

        var record = run.Record;
        using var cleanup = new CancellationTokenSource(CleanupTimeout);
        if (!await EnsureConnectedAsync(record, cleanup.Token).ConfigureAwait(false))
        {
            log.Warning($"The connection to {session.HostName} is gone: the deploy lock (deploy {record.Id}) and the history entry could not be written. Release the lock with Unlock-Deploy.");
            return;
        }

        if (run.LockHeld)
        {
            await TryAsync("releasing the deploy lock", token => run.Lock.ReleaseAsync(record.Id, token), cleanup.Token).ConfigureAwait(false);
        }

        await TryAsync("writing the history", token => new DeployHistory(session, target, log).AppendAsync(record, token), cleanup.Token).ConfigureAwait(false);
    }

    /// <summary>Opens the session again when the connection dropped, so that rollback, unlock and history still happen.</summary>
    private async Task<bool> EnsureConnectedAsync(DeploymentRecord record, CancellationToken cancellationToken)
    {
        if (session.State == SessionState.Open)
        {
            return true;
        }

        try
        {
            log.Warning($"The connection to {session.HostName} was lost during the deploy; connecting again to recover.");
            await session.ReconnectAsync(log, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (!PhaseRunner.IsFatal(ex))
        {
            record.Reason += $"; reconnecting failed: {PhaseRunner.ReasonOf(ex)}";
            return false;
        }
    }

    /// <summary>
    /// Cuts the connection from the server's side, as a network failure would: the sshd process serving this
    /// session (the parent of the command's shell) is killed. For -FaultInjection ConnectionDrop only.
    /// </summary>
    private async Task DropConnectionAsync(CancellationToken cancellationToken)
    {
        if (session.Transport != SessionTransport.Ssh)
        {
            throw new AedDeployException("FaultInjectionNeedsSsh", FailureKind.InvalidArgument, "A ConnectionDrop can only be injected into an SSH session.", session);
        }

        try
        {
            // The sshd process of this connection is the nearest ancestor named sshd (sshd-session on newer OpenSSH).
            var result = await new RemoteRunner(session, log).RunAsync(
                """
                q=$PPID
                while [ -n "$q" ] && [ "$q" -gt 1 ]; do
                  case "$(tr '\0' ' ' < "/proc/$q/cmdline" 2>/dev/null)" in sshd*) kill -KILL "$q"; sleep 5; exit 0 ;; esac
                  q=$(ps -o ppid= -p "$q" 2>/dev/null | tr -d ' ')
                done
                echo "no sshd process serves this command" >&2; exit 1
                """,
                cancellationToken, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            throw new AedDeployException(
                "FaultInjectionFailed", FailureKind.InvalidOperation,
                $"-FaultInjection could not cut the connection to {session.HostName} (exit {result.ExitStatus}): {result.Tail(3)}", session);
        }
        catch (AedDeployException ex) when (ex.Kind is FailureKind.Connection)
        {
            // The command dies with the connection: that is the point.
        }
    }

    private async Task TryAsync(string what, Func<CancellationToken, Task> work, CancellationToken cancellationToken)
    {
        try
        {
            await work(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!PhaseRunner.IsFatal(ex))
        {
            log.Warning($"After the deploy, {what} failed: {PhaseRunner.ReasonOf(ex)}");
        }
    }

    private static string Short(string commit) => commit[..Math.Min(12, commit.Length)];

    /// <summary>What one deploy has found out so far, shared by its phases.</summary>
    internal sealed class DeployRun(DeployRequest request, DeploymentRecord record, DeployLock deployLock)
    {
        public DeployRequest Request => request;

        public DeploymentRecord Record => record;

        public DeployLock Lock => deployLock;

        public bool LockHeld { get; set; }

        /// <summary>Keeps the lock's lease renewed while the deploy works.</summary>
        public IAsyncDisposable? Renewal { get; set; }

        public PreflightReport? Preflight { get; set; }

        /// <summary>The deploy whose expired lock this one took over; the Repair phase puts right what it left.</summary>
        public LockInfo? Abandoned { get; set; }

        public BuildBackup? Backup { get; set; }

        /// <summary>InPlace: the commit the Fetch phase resolved the ref to.</summary>
        public string? Commit { get; set; }

        public BuildResult? Build { get; set; }

        public ReloadResult? Reload { get; set; }

        /// <summary>Finalize began: the new release may be recorded Verified and be the rollback target.</summary>
        public bool FinalizeStarted { get; set; }

        /// <summary>This host's part in a fleet deploy; null for a single-host deploy.</summary>
        public FleetContext? Fleet { get; init; }

        public BuildResult RequireBuild() => Build ?? throw new InvalidOperationException("The deploy plan runs a phase that needs the build before the Build phase.");
    }
}
