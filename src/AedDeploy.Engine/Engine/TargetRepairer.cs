using System.Diagnostics;

namespace AedDeploy.Engine;

/// <summary>What a repair proves and how (Repair-DeployTarget).</summary>
public sealed class RepairRequest
{
    /// <summary>What proves the repaired release healthy.</summary>
    public required HealthRequest Health { get; init; }

    /// <summary>Keeps the live release (proving it and recording it Verified) instead of putting the last verified release back.</summary>
    public bool KeepLive { get; init; }

    public TimeSpan ReloadTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public TimeSpan LockLease { get; init; } = DeployLock.DefaultLease;

    public TimeSpan LockWaitTimeout { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// Health must come from the build of the release the repair serves (its recorded build id), unless
    /// <see cref="HealthRequest.ExpectedBuildId"/> names one: an answer of any other build fails, as after a rollback.
    /// </summary>
    public bool ProveBuildId { get; init; } = true;

    /// <summary>Who repairs: user@machine.</summary>
    public string User { get; init; } = $"{Environment.UserName}@{Environment.MachineName}";
}

/// <summary>
/// Brings a target back to a consistent state (Repair-DeployTarget, and a deploy that took over an abandoned
/// lock): the last verified release live (current switched back if needed), the workers reloaded onto it as a
/// rollback reloads them (or, when they already run it, once if they answer unhealthy), health proven, the releases
/// nothing is making any more marked Failed, and a history entry. With KeepLive, the live release is proven healthy
/// instead and recorded Verified, as the rollback target.
/// </summary>
public sealed class TargetRepairer(DeploySession session, AppTarget target, IDeployLog log)
{
    private const string Activity = "Repair-DeployTarget";

    /// <summary>What a repair would do now, read-only (-WhatIf shows it).</summary>
    public async Task<RepairPlan> PlanAsync(bool keepLive, CancellationToken cancellationToken)
    {
        var state = await new TargetInspector(session, target, log).InspectAsync(cancellationToken).ConfigureAwait(false);
        var holder = await new DeployLock(session, target, log).ShowAsync(cancellationToken).ConfigureAwait(false);
        return Plan(state, holder, keepLive);
    }

    /// <summary>The plan for an inspected target; fails with RepairImpossible when no release can be put back.</summary>
    public RepairPlan Plan(TargetConsistency state, LockInfo? holder, bool keepLive)
    {
        var steps = new List<string>();
        string? serve = null;
        string? switchFrom = null;
        var recordVerified = false;
        IReadOnlyList<string> markFailed = [];
        IReadOnlyList<string> endBuilds = [];
        var expectedFolder = state.LiveFolder;
        if (target.Layout == DeployLayout.Release)
        {
            serve = keepLive ? state.LiveRelease : state.RollbackTarget;
            if (serve is null)
            {
                throw new AedDeployException(
                    "RepairImpossible", FailureKind.InvalidOperation,
                    keepLive
                        ? $"{target.LivePath} on {session.HostName} points at no release: there is no live release to keep. Point it at one with Switch-Release, then repair."
                        : $"No release of {target} on {session.HostName} is recorded Verified, so none is known good to put back. If the live release {state.LiveRelease} serves well, "
                          + "prove it and record it verified with Repair-DeployTarget -KeepLive.",
                    state);
            }

            var release = state.Releases.Single(r => r.Id == serve);
            if (serve != state.LiveRelease)
            {
                switchFrom = state.LiveRelease;
                expectedFolder = string.Empty;
                steps.Add($"point current back at release {serve}, the last verified one (from {switchFrom ?? "no release"})");
            }

            markFailed = state.Releases
                .Where(r => r.Id != serve && r.Status is ReleaseStatus.Building or ReleaseStatus.Built)
                .Select(r => r.Id).ToList();
            endBuilds = state.Releases.Where(r => markFailed.Contains(r.Id) && r.Status == ReleaseStatus.Building).Select(r => r.Id).ToList();
            if (endBuilds.Count > 0)
            {
                steps.Add($"end the processes still running in release(s) {string.Join(", ", endBuilds)} (a build whose deploy is gone)");
            }

            if (markFailed.Count > 0)
            {
                steps.Add($"mark release(s) {string.Join(", ", markFailed)} Failed: no deploy is making them any more");
            }

            recordVerified = release.Status != ReleaseStatus.Verified;
        }

        var reload = expectedFolder.Length == 0 || state.Workers.Count == 0 || state.Workers.Any(w => w.Folder != expectedFolder || w.Status != "online");
        if (reload)
        {
            steps.Add($"reload the workers of {target.AppName} onto {(serve is null ? target.AppPath : $"release {serve}")} (as a rollback does: an interrupted reload is let finish, a crash loop restarted)");
        }

        steps.Add(reload ? "prove health" : "prove health (an unhealthy answer gets the workers one reload, then health is proven again)");
        if (serve is not null)
        {
            steps.Add(recordVerified ? $"record release {serve} Verified, as the rollback target" : $"keep release {serve} as the rollback target");
        }

        return new RepairPlan(session, target)
        {
            Consistency = state,
            Lock = holder,
            KeepLive = keepLive,
            ReleaseId = serve,
            SwitchFrom = switchFrom,
            Reload = reload,
            RecordVerified = recordVerified,
            MarkFailed = markFailed,
            EndBuilds = endBuilds,
            Steps = steps,
        };
    }

    /// <summary>
    /// Repair-DeployTarget: takes the lock (refusing a holder that still renews it with DeployLocked, taking over
    /// one that stopped), repairs under it while renewing it, writes a Repair history entry, and releases the lock.
    /// </summary>
    public async Task<RepairResult> RepairAsync(RepairRequest request, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var id = ReleaseStore.NewReleaseId(DateTimeOffset.UtcNow) + "-repair-" + Guid.NewGuid().ToString("N")[..6];
        var deployLock = new DeployLock(session, target, log);
        log.Progress(Activity, "Taking the deploy lock", 5);
        var abandoned = await deployLock.AcquireAsync(
            new LockInfo { DeployId = id, User = request.User, Ref = "Repair-DeployTarget", StartedAt = DateTimeOffset.UtcNow }, request.LockWaitTimeout, request.LockLease, cancellationToken)
            .ConfigureAwait(false);
        var renewal = deployLock.StartRenewing(id, DeployLock.RenewalInterval(request.LockLease));
        RepairPlan? plan = null;
        try
        {
            var state = await new TargetInspector(session, target, log).InspectAsync(cancellationToken).ConfigureAwait(false);
            plan = Plan(state, abandoned, request.KeepLive);
            var result = await ApplyAsync(id, plan, ProofFor(plan, request.Health, request.ProveBuildId), request.ReloadTimeout, abandoned, cancellationToken).ConfigureAwait(false);
            if (abandoned is not null)
            {
                await AppendAsync(HistoryEntry(HistoryKind.TakeOver, abandoned.DeployId, request.User, plan, DeploymentOutcome.Succeeded, TakeOverReason(id, abandoned, plan, result), stopwatch.Elapsed), cancellationToken)
                    .ConfigureAwait(false);
            }

            await AppendAsync(HistoryEntry(HistoryKind.Repair, id, request.User, plan, DeploymentOutcome.Succeeded, RepairReason(plan, result), stopwatch.Elapsed), cancellationToken)
                .ConfigureAwait(false);
            return result;
        }
        catch (Exception ex) when (ex is AedDeployException or OperationCanceledException)
        {
            await TryAppendAsync(HistoryEntry(HistoryKind.Repair, id, request.User, plan, DeploymentOutcome.Failed, $"{(plan is null ? "inspection" : RepairReason(plan))} failed: {FirstLine(ex.Message)}", stopwatch.Elapsed,
                ex is AedDeployException known ? known.ErrorId : "RepairCancelled")).ConfigureAwait(false);
            throw;
        }
        finally
        {
            await renewal.DisposeAsync().ConfigureAwait(false);
            using var cleanup = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            try
            {
                await deployLock.ReleaseAsync(id, cleanup.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is AedDeployException or OperationCanceledException)
            {
                log.Warning($"After the repair, releasing the deploy lock failed (it expires {request.LockLease.TotalSeconds:0} s after its last renewal): {FirstLine(ex.Message)}");
            }
        }
    }

    /// <summary>
    /// A deploy that took over the lock of <paramref name="abandoned"/> repairs what that deploy left before doing
    /// anything else (the last verified release live and healthy, its unfinished releases marked Failed) and writes a
    /// TakeOver history entry naming it, also when the repair fails.
    /// </summary>
    public async Task<RepairResult> TakeOverAsync(
        LockInfo abandoned, string deployId, string user, HealthRequest health, bool proveBuildId, TimeSpan reloadTimeout, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        RepairPlan? plan = null;
        try
        {
            var state = await new TargetInspector(session, target, log).InspectAsync(cancellationToken).ConfigureAwait(false);
            plan = Plan(state, abandoned, keepLive: false);
            var result = await ApplyAsync(deployId, plan, ProofFor(plan, health, proveBuildId), reloadTimeout, abandoned, cancellationToken).ConfigureAwait(false);
            await AppendAsync(HistoryEntry(HistoryKind.TakeOver, abandoned.DeployId, user, plan, DeploymentOutcome.Succeeded, TakeOverReason(deployId, abandoned, plan, result), stopwatch.Elapsed), cancellationToken)
                .ConfigureAwait(false);
            return result;
        }
        catch (Exception ex) when (ex is AedDeployException or OperationCanceledException)
        {
            var why = plan is null ? "the inspection" : "the repair";
            await TryAppendAsync(HistoryEntry(HistoryKind.TakeOver, abandoned.DeployId, user, plan, DeploymentOutcome.Failed,
                $"{TakeOverPrefix(deployId, abandoned)}; {why} failed: {FirstLine(ex.Message)}", stopwatch.Elapsed, ex is AedDeployException known ? known.ErrorId : "DeployCancelled")).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// After a deploy failed (under its lock, after reconnecting if the connection dropped): its own release, and
    /// any other release left Building or Built and not live, are marked Cancelled (Ctrl+C) or Failed with the
    /// deploy's reason, so that no release shows Building when nothing builds it.
    /// </summary>
    public async Task<IReadOnlyList<string>> MarkUnfinishedReleasesAsync(DeploymentRecord record, CancellationToken cancellationToken)
    {
        var store = new ReleaseStore(session, target, log);
        var releases = await store.ListAsync(cancellationToken).ConfigureAwait(false);
        var status = record.ErrorId == "DeployCancelled" ? ReleaseStatus.Cancelled : ReleaseStatus.Failed;
        var doomed = releases.Where(r =>
                (r.Id == record.ToRelease && r.Status is not (ReleaseStatus.Failed or ReleaseStatus.Cancelled or ReleaseStatus.Verified))
                || (!r.IsLive && r.Status is ReleaseStatus.Building or ReleaseStatus.Built))
            .ToList();
        foreach (var release in doomed)
        {
            await store.WriteRecordAsync(Failed(release, status, $"{record.ErrorId}: {record.Reason}", record.StartedAt), cancellationToken).ConfigureAwait(false);
        }

        return doomed.Select(r => r.Id).ToList();
    }

    /// <summary>
    /// What proves the repair: <paramref name="health"/>, requiring answers from the build of the release the plan
    /// serves (as a rollback requires the old build's), unless the check names a build id itself, the plan serves no
    /// recorded release (InPlace), or <paramref name="proveBuildId"/> is off.
    /// </summary>
    internal static HealthRequest ProofFor(RepairPlan plan, HealthRequest health, bool proveBuildId)
    {
        if (!proveBuildId || health.ExpectedBuildId is not null || plan.ReleaseId is null)
        {
            return health;
        }

        var buildId = plan.Consistency.Releases.FirstOrDefault(r => r.Id == plan.ReleaseId)?.BuildId;
        return string.IsNullOrEmpty(buildId) ? health : health.WithBuildId(buildId);
    }

    private async Task<RepairResult> ApplyAsync(string id, RepairPlan plan, HealthRequest health, TimeSpan reloadTimeout, LockInfo? abandoned, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var store = new ReleaseStore(session, target, log);
        foreach (var problem in plan.Consistency.Problems)
        {
            log.Warning($"Repairing {target} on {session.HostName}: {problem}.");
        }

        if (plan.ReleaseId is not null && plan.ReleaseId != plan.Consistency.LiveRelease)
        {
            log.Progress(Activity, $"Pointing current back at {plan.ReleaseId}", 20);
            await new ArtifactInspector(session, target, log)
                .RequireCompleteAsync(target.ReleasePath(plan.ReleaseId), plan.ReleaseId, $"The last verified release {plan.ReleaseId}", cancellationToken).ConfigureAwait(false);
            await store.SwitchAsync(plan.ReleaseId, cancellationToken).ConfigureAwait(false);
        }

        if (plan.EndBuilds.Count > 0)
        {
            // A killed client does not stop its remote commands: the abandoned build would go on using the CPU the
            // live workers need, and writing into its release.
            var ended = await new RemoteRunner(session, log)
                .RunScriptAsync("end-release-processes.sh", [target.AppPath, .. plan.EndBuilds.Select(Names.ValidateReleaseId)], cancellationToken, TimeSpan.FromMinutes(1))
                .ConfigureAwait(false);
            foreach (var line in ended.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                log.Warning($"Ended what the abandoned build left running: {line}");
            }
        }

        var reason = abandoned is null ? "abandoned: no deploy was making it any more (found by Repair-DeployTarget)" : $"abandoned by deploy {abandoned.DeployId}";
        foreach (var release in plan.Consistency.Releases.Where(r => plan.MarkFailed.Contains(r.Id)))
        {
            await store.WriteRecordAsync(Failed(release, ReleaseStatus.Failed, reason, DateTimeOffset.UtcNow), cancellationToken).ConfigureAwait(false);
        }

        ReloadResult? reload = null;
        if (plan.Reload)
        {
            log.Progress(Activity, "Reloading the workers", 40);
            reload = await new ReloadService(session, target, log).ReloadAsync(reloadTimeout, cancellationToken, recovery: true).ConfigureAwait(false);
        }

        log.Progress(Activity, "Proving health", 70);
        var report = await new HealthService(session, target, log).CheckAsync(health, cancellationToken).ConfigureAwait(false);
        var reloadedUnhealthy = false;
        if (!report.Healthy && reload is null)
        {
            reloadedUnhealthy = true;
            // Workers online in the right folder that do not answer well (a failed rollback leaves exactly that) may be
            // stuck in a state their code would not be in when started again: they get one reload before the verdict.
            log.Warning($"{target} on {session.HostName} runs its workers where it should but is not healthy ({string.Join("; ", report.Problems)}): reloading them once, then proving health again.");
            log.Progress(Activity, "Reloading the workers", 80);
            reload = await new ReloadService(session, target, log).ReloadAsync(reloadTimeout, cancellationToken, recovery: true).ConfigureAwait(false);
            log.Progress(Activity, "Proving health", 90);
            report = await new HealthService(session, target, log).CheckAsync(health, cancellationToken).ConfigureAwait(false);
        }

        var result = new RepairResult(session, target)
        {
            Id = id, Plan = plan, TookOverFrom = abandoned, Reload = reload, ReloadedUnhealthy = reloadedUnhealthy, Health = report, Duration = stopwatch.Elapsed,
        };
        if (!report.Healthy)
        {
            throw new AedDeployException(
                "RepairUnhealthy", FailureKind.InvalidResult,
                $"After the repair{(reloadedUnhealthy ? " and one reload of its unhealthy workers" : string.Empty)}, {(plan.ReleaseId is null ? target.AppPath : $"release {plan.ReleaseId}")} on {session.HostName} is live but not healthy: {string.Join("; ", report.Problems)}. "
                + "Look at the app's logs (pm2 logs); Repair-DeployTarget can run again once the cause is fixed.",
                result);
        }

        if (plan.ReleaseId is not null)
        {
            var release = plan.Consistency.Releases.Single(r => r.Id == plan.ReleaseId);
            if (plan.RecordVerified)
            {
                await store.WriteRecordAsync(
                    new ReleaseRecord(release.Id, release.Ref, release.Commit, release.BuildId, ReleaseStatus.Verified, release.CreatedAt ?? DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null),
                    cancellationToken).ConfigureAwait(false);
            }

            await store.SetRollbackTargetAsync(release.Id, cancellationToken).ConfigureAwait(false);
        }

        log.Progress(Activity, "Repaired", 100);
        return result;
    }

    private static ReleaseRecord Failed(ReleaseInfo release, ReleaseStatus status, string reason, DateTimeOffset createdFallback) =>
        new(release.Id, release.Ref, release.Commit, release.BuildId, status, release.CreatedAt ?? createdFallback, null, reason);

    private DeploymentRecord HistoryEntry(
        HistoryKind kind, string id, string user, RepairPlan? plan, DeploymentOutcome outcome, string reason, TimeSpan duration, string? errorId = null) => new()
    {
        Id = id,
        Kind = kind,
        HostName = session.HostName,
        AppName = target.AppName,
        AppPath = target.AppPath,
        Layout = target.Layout,
        FromRelease = plan?.Consistency.LiveRelease,
        ToRelease = plan?.ReleaseId,
        Outcome = outcome,
        Reason = reason,
        ErrorId = errorId,
        User = user,
        Duration = duration,
    };

    private static string TakeOverPrefix(string deployId, LockInfo abandoned) =>
        $"deploy {deployId} took over the lock of {abandoned}";

    private static string TakeOverReason(string deployId, LockInfo abandoned, RepairPlan plan, RepairResult result) =>
        $"{TakeOverPrefix(deployId, abandoned)}; {RepairReason(plan, result)}";

    private static string RepairReason(RepairPlan plan, RepairResult? result = null) =>
        (plan.Consistency.IsConsistent ? "the target was consistent" : "fixed: " + string.Join("; ", plan.Consistency.Problems))
        + "; did: " + string.Join("; ", plan.Steps)
        + (result is { ReloadedUnhealthy: true } ? "; the workers answered unhealthy and were reloaded once" : string.Empty);

    private Task AppendAsync(DeploymentRecord entry, CancellationToken cancellationToken) =>
        new DeployHistory(session, target, log).AppendAsync(entry, cancellationToken);

    // On the failure path the history entry must not hide the failure it records.
    private async Task TryAppendAsync(DeploymentRecord entry)
    {
        using var cleanup = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        try
        {
            await AppendAsync(entry, cleanup.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AedDeployException or OperationCanceledException)
        {
            log.Warning($"Writing the {entry.Kind} history entry failed: {FirstLine(ex.Message)}");
        }
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
