using System.Diagnostics;
using System.Globalization;

namespace AedDeploy.Engine;

/// <summary>Everything a composed deploy needs besides the target.</summary>
public sealed class DeployRequest
{
    public required BuildRequest Build { get; init; }

    /// <summary>What proves the new version healthy; the rollback proves the old one with the same URLs and status.</summary>
    public required HealthRequest Health { get; init; }

    /// <summary>The answers must come from the new build (its BUILD_ID in the body or an X-Build-Id header).</summary>
    public bool VerifyBuildId { get; init; }

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

    /// <summary>Who deploys: user@machine.</summary>
    public string User { get; init; } = $"{Environment.UserName}@{Environment.MachineName}";
}

/// <summary>
/// The composed deploy (Invoke-ZeroDowntimeDeploy): lock, backup, build, validate, boot test, switch, reload,
/// health, cache purge, release the lock. Anything that fails after the live state changed is rolled back to
/// the backup and proven healthy again. The lock is always released and every run leaves a history entry,
/// also on Ctrl+C and when the connection drops (the session is opened again for that).
/// </summary>
public sealed class DeployOrchestrator(DeploySession session, AppTarget target, IDeployLog log)
{
    private const string Activity = "Invoke-ZeroDowntimeDeploy";
    private static readonly TimeSpan CleanupTimeout = TimeSpan.FromMinutes(5);

    /// <summary>The read-only checks a deploy starts with; -WhatIf runs only these.</summary>
    public async Task<PreflightReport> PreflightAsync(long minimumFreeDiskMegabytes, CancellationToken cancellationToken)
    {
        var runner = new RemoteRunner(session.Shell, log);
        var checks = new List<PreflightCheck> { new("Connection", true, $"{session} ({session.HostKeyAlgorithm} {session.HostKeyFingerprint})") };
        string? liveRelease = null;
        string? liveBuildId = null;

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
        }

        TargetConsistency? consistency = null;
        if (checks[1].Passed)
        {
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

        var holder = await new DeployLock(session, target, log).ShowAsync(cancellationToken).ConfigureAwait(false);
        checks.Add(new("Deploy lock", holder is null || holder.IsExpired,
            holder is null ? "free" : holder.IsExpired ? $"held by {holder}: a deploy takes it over and repairs what it left" : $"held by {holder}"));
        return new PreflightReport(session, target) { Checks = checks, LiveRelease = liveRelease, LiveBuildId = liveBuildId, Lock = holder, Consistency = consistency };
    }

    public async Task<DeploymentRecord> DeployAsync(DeployRequest request, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var record = new DeploymentRecord
        {
            Id = ReleaseStore.NewReleaseId(DateTimeOffset.UtcNow) + "-" + Guid.NewGuid().ToString("N")[..6],
            HostName = session.HostName,
            AppName = target.AppName,
            AppPath = target.AppPath,
            Layout = target.Layout,
            Ref = request.Build.Ref,
            User = request.User,
        };
        var deployLock = new DeployLock(session, target, log);
        var lockHeld = false;
        IAsyncDisposable? renewal = null;
        var liveChanged = false;
        BuildBackup? backup = null;
        Exception? failure = null;
        try
        {
            var preflight = await RunPhaseAsync(record, "Preflight", 2, async token =>
            {
                var preflight = await PreflightAsync(request.MinimumFreeDiskMegabytes, token).ConfigureAwait(false);
                // A held lock is the Lock phase's to report (it may wait for it). While it is held the target is
                // mid-deploy, so drift is not conclusive: a live holder is waited for (and the target checked once
                // the lock is ours), an abandoned one is taken over and the Repair phase fixes what it left.
                string[] deferred = preflight.Lock is null ? ["Deploy lock"] : ["Deploy lock", "Consistency", "PM2 app"];
                var blocking = preflight.Checks.FirstOrDefault(c => !c.Passed && !deferred.Contains(c.Name));
                return blocking is null ? preflight
                    : blocking.Name == "Consistency" && preflight.Consistency is not null ? throw TargetInspector.Drifted(target, session.HostName, preflight.Consistency.Problems, preflight)
                    : throw new AedDeployException("PreflightFailed", FailureKind.InvalidOperation, $"{blocking.Name}: {blocking.Detail}", preflight);
            }, p => string.Join("; ", p.Checks.Select(c => $"{c.Name}: {c.Detail}")), cancellationToken).ConfigureAwait(false);

            LockInfo? abandoned = null;
            await RunPhaseAsync(record, "Lock", 5, async token =>
            {
                var owner = new LockInfo { DeployId = record.Id, User = record.User, Ref = record.Ref, StartedAt = record.StartedAt };
                abandoned = await deployLock.AcquireAsync(owner, request.LockWaitTimeout, request.LockLease, token).ConfigureAwait(false);
                lockHeld = true;
                renewal = deployLock.StartRenewing(record.Id, DeployLock.RenewalInterval(request.LockLease));
                if (abandoned is null && preflight.Lock is not null)
                {
                    await new TargetInspector(session, target, log).RequireConsistentAsync(token).ConfigureAwait(false);
                }

                return true;
            }, _ => abandoned is null ? null : $"took over the lock of abandoned deploy {abandoned.DeployId}", cancellationToken).ConfigureAwait(false);

            if (abandoned is not null)
            {
                await RunPhaseAsync(record, "Repair", 8,
                    token => new TargetRepairer(session, target, log).TakeOverAsync(abandoned, record.Id, record.User, request.Health.ForRollback(), request.ReloadTimeout, token),
                    r => r.Fixed.Count == 0 ? "consistent; proven healthy" : $"repaired ({string.Join("; ", r.Fixed)}); {r.ReleaseId ?? target.AppPath} healthy", cancellationToken)
                    .ConfigureAwait(false);
            }

            backup = await RunPhaseAsync(record, "Backup", 10, token => new BackupService(session, target, log).BackupAsync(token), b => $"{b.ReleaseId ?? b.BackupPath} ({b.BuildId})", cancellationToken)
                .ConfigureAwait(false);
            record.FromCommit = backup.Commit;
            record.FromBuildId = backup.BuildId;
            record.FromRelease = backup.ReleaseId;

            // InPlace: once the checkout is reset, the live app's files are changing (next build rewrites .next),
            // so from then on a failure needs the backup back; a ref that does not exist changes nothing.
            var build = await RunPhaseAsync(record, "Build", 15, token => new BuildService(session, target, log).BuildAsync(request.Build, token, () => liveChanged = true),
                b => $"{b.Commit[..Math.Min(12, b.Commit.Length)]} → {b.BuildId} ({b.InstallMode})", cancellationToken).ConfigureAwait(false);
            record.ToCommit = build.Commit;
            record.ToBuildId = build.BuildId;
            record.ToRelease = build.ReleaseId;

            await RunPhaseAsync(record, "Validate", 60,
                token => new ArtifactInspector(session, target, log).RequireCompleteAsync(build.ReleasePath, build.ReleaseId, "The new build", token),
                r => $"{r.Checks.Count} checks passed", cancellationToken).ConfigureAwait(false);

            if (target.Layout == DeployLayout.Release && request.BootTest)
            {
                var probePath = request.Health.Urls.Count > 0 ? request.Health.Urls[0].PathAndQuery : "/";
                await RunPhaseAsync(record, "BootTest", 65,
                    token => new BootTester(session, target, log).RequireBootAsync(build.ReleasePath, probePath, request.Health.ExpectedStatus, request.BootTestTimeout, token),
                    detail => detail, cancellationToken).ConfigureAwait(false);
            }

            if (target.Layout == DeployLayout.Release)
            {
                liveChanged = true;
                await RunPhaseAsync(record, "Switch", 70, async token =>
                {
                    await new ReleaseStore(session, target, log).SwitchAsync(build.ReleaseId!, token).ConfigureAwait(false);
                    return true;
                }, _ => $"current → {build.ReleaseId}", cancellationToken).ConfigureAwait(false);
            }

            await RunPhaseAsync(record, "Reload", 75, token => new ReloadService(session, target, log).ReloadAsync(request.ReloadTimeout, token, previousCommit: backup.Commit),
                r => $"{r.Instances} instance(s) reloaded{(r.Warnings.Count > 0 ? $"; {r.Warnings.Count} warning(s)" : string.Empty)}", cancellationToken).ConfigureAwait(false);

            await RunPhaseAsync(record, "Health", 85, async token =>
            {
                var expectation = request.VerifyBuildId ? request.Health.WithBuildId(build.BuildId) : request.Health;
                var health = await new HealthService(session, target, log).CheckAsync(expectation, token).ConfigureAwait(false);
                return health.Healthy
                    ? health
                    : throw new AedDeployException("AppUnhealthy", FailureKind.InvalidResult, $"The new version is not healthy: {string.Join("; ", health.Problems)}", health);
            }, h => $"healthy in {h.Duration.TotalSeconds:0.0} s", cancellationToken).ConfigureAwait(false);

            if (request.CachePath is not null)
            {
                await RunPhaseAsync(record, "CachePurge", 92, async token =>
                {
                    var cleared = await new NginxCacheService(session, log).ClearAsync(request.CachePath, request.NginxTestCommand, request.NginxReloadCommand, token).ConfigureAwait(false);
                    if (cleared.Problem is not null)
                    {
                        if (request.StrictCachePurge)
                        {
                            throw new AedDeployException("NginxCacheClearFailed", FailureKind.InvalidOperation, cleared.Problem, cleared);
                        }

                        log.Warning($"The nginx cache purge failed; the deploy goes on: {cleared.Problem}");
                    }

                    return cleared;
                }, c => c.Problem is null ? $"{c.FilesRemoved} file(s) removed, nginx reloaded" : $"warning: {c.Problem}", cancellationToken).ConfigureAwait(false);
            }

            if (target.Layout == DeployLayout.Release)
            {
                await RunPhaseAsync(record, "Finalize", 96, token => FinalizeReleaseAsync(build, request.KeepReleases, token), pruned => $"verified; pruned {pruned}", cancellationToken)
                    .ConfigureAwait(false);
            }

            record.Outcome = DeploymentOutcome.Succeeded;
        }
        catch (Exception ex) when (ex is AedDeployException or OperationCanceledException)
        {
            failure = ex;
            record.ErrorId = ex is AedDeployException known ? known.ErrorId : "DeployCancelled";
            record.Reason = ex is OperationCanceledException ? "cancelled (Ctrl+C)" : FirstLine(ex.Message);
            record.Outcome = DeploymentOutcome.Failed;
            await RecoverAsync(record, request, backup, liveChanged, lockHeld).ConfigureAwait(false);
        }
        finally
        {
            record.Duration = stopwatch.Elapsed;
            await CleanUpAsync(record, deployLock, lockHeld, renewal).ConfigureAwait(false);
            log.Progress(Activity, record.Outcome.ToString(), 100);
        }

        if (failure is OperationCanceledException)
        {
            throw failure;
        }

        return record;
    }

    private async Task RecoverAsync(DeploymentRecord record, DeployRequest request, BuildBackup? backup, bool liveChanged, bool lockHeld)
    {
        using var cleanup = new CancellationTokenSource(CleanupTimeout);
        if (!await EnsureConnectedAsync(record, cleanup.Token).ConfigureAwait(false))
        {
            return;
        }

        if (liveChanged && backup is not null)
        {
            // The rollback proves the old version with the same URLs and status, not the new version's content.
            var health = request.Health.ForRollback();
            try
            {
                await RunPhaseAsync(record, "Rollback", 95,
                    token => RollBackAsync(backup, health, request, token),
                    r => $"{r.ReleaseId ?? r.Commit} serving again, healthy", cleanup.Token).ConfigureAwait(false);
                record.Outcome = DeploymentOutcome.RolledBack;
                log.Warning($"The deploy failed ({record.Reason}) and was rolled back: {backup.ReleaseId ?? backup.Commit} is serving again.");
            }
            catch (Exception ex) when (ex is AedDeployException or OperationCanceledException)
            {
                record.Reason += $"; the rollback failed too: {FirstLine(ex.Message)}";
                log.Warning($"ROLLBACK FAILED on {session.HostName}: {ex.Message}");
            }
        }

        // Under the lock nothing else builds, so a release left Building (a build cut by a dropped connection) is this deploy's.
        if (lockHeld && target.Layout == DeployLayout.Release)
        {
            await TryAsync("marking the failed release", token => new TargetRepairer(session, target, log).MarkUnfinishedReleasesAsync(record, token), cleanup.Token).ConfigureAwait(false);
        }
    }

    private async Task<RestoreResult> RollBackAsync(BuildBackup backup, HealthRequest health, DeployRequest request, CancellationToken cancellationToken)
    {
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

        return restored;
    }

    private async Task CleanUpAsync(DeploymentRecord record, DeployLock deployLock, bool lockHeld, IAsyncDisposable? renewal)
    {
        if (renewal is not null)
        {
            await renewal.DisposeAsync().ConfigureAwait(false);
        }

        using var cleanup = new CancellationTokenSource(CleanupTimeout);
        if (!await EnsureConnectedAsync(record, cleanup.Token).ConfigureAwait(false))
        {
            log.Warning($"The connection to {session.HostName} is gone: the deploy lock (deploy {record.Id}) and the history entry could not be written. Release the lock with Unlock-Deploy.");
            return;
        }

        if (lockHeld)
        {
            await TryAsync("releasing the deploy lock", token => deployLock.ReleaseAsync(record.Id, token), cleanup.Token).ConfigureAwait(false);
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
        catch (Exception ex) when (ex is AedDeployException or OperationCanceledException)
        {
            record.Reason += $"; reconnecting failed: {FirstLine(ex.Message)}";
            return false;
        }
    }

    private async Task<int> FinalizeReleaseAsync(BuildResult build, int keep, CancellationToken cancellationToken)
    {
        var store = new ReleaseStore(session, target, log);
        var releases = await store.ListAsync(cancellationToken).ConfigureAwait(false);
        var built = releases.Single(r => r.Id == build.ReleaseId);
        await store.WriteRecordAsync(
            new ReleaseRecord(built.Id, build.Ref, build.Commit, build.BuildId, ReleaseStatus.Verified, built.CreatedAt ?? DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null),
            cancellationToken).ConfigureAwait(false);
        await store.SetRollbackTargetAsync(built.Id, cancellationToken).ConfigureAwait(false);

        // Older releases stay for a while: clients of the old version still ask for its hashed chunks.
        var prunable = releases.Where(r => r.Id != built.Id && !r.IsLive && !r.IsRollbackTarget).OrderBy(r => r.CreatedAt ?? DateTimeOffset.MinValue).ThenBy(r => r.Id).ToList();
        var excess = releases.Count - Math.Max(keep, 2);
        var doomed = prunable.Take(Math.Max(0, excess)).Select(r => r.Id).ToList();
        if (doomed.Count > 0)
        {
            await store.RemoveAsync(doomed, cancellationToken).ConfigureAwait(false);
        }

        return doomed.Count;
    }

    private async Task<T> RunPhaseAsync<T>(
        DeploymentRecord record, string name, int percent, Func<CancellationToken, Task<T>> work, Func<T, string?> describe, CancellationToken cancellationToken)
    {
        log.Progress(Activity, name, percent);
        log.Verbose($"Phase {name}.");
        var stopwatch = Stopwatch.StartNew();
        try
        {
            var result = await work(cancellationToken).ConfigureAwait(false);
            record.Phases.Add(new PhaseRecord(name, "Succeeded", stopwatch.Elapsed, describe(result)));
            return result;
        }
        catch (Exception ex) when (ex is AedDeployException or OperationCanceledException)
        {
            record.Phases.Add(new PhaseRecord(name, ex is OperationCanceledException ? "Cancelled" : "Failed", stopwatch.Elapsed, FirstLine(ex.Message)));
            record.FailedPhase ??= name;
            throw;
        }
    }

    private async Task TryAsync(string what, Func<CancellationToken, Task> work, CancellationToken cancellationToken)
    {
        try
        {
            await work(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AedDeployException or OperationCanceledException)
        {
            log.Warning($"After the deploy, {what} failed: {FirstLine(ex.Message)}");
        }
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
