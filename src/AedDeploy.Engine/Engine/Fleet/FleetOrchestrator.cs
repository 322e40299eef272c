using System.Diagnostics;
using System.Security.Cryptography;

namespace AedDeploy.Engine.Fleet;

/// <summary>One host of a fleet deploy: its session, its app and its own deploy settings (health URLs, nginx cache).</summary>
public sealed record FleetMember(DeploySession Session, AppTarget Target, DeployRequest Request)
{
    /// <summary>The lock order and batch order: host, port, path.</summary>
    public string Key => $"{Session.HostName}:{Session.Port}{Target.AppPath}";
}

/// <summary>What a fleet deploy needs besides its members.</summary>
public sealed class FleetRequest
{
    public required IReadOnlyList<FleetMember> Members { get; init; }

    /// <summary>
    /// Where the release is built: one of the members' sessions (by default the first in lock order), or another
    /// machine's (a local session on a CI runner), which then builds at <see cref="BuildPath"/>.
    /// </summary>
    public DeploySession? BuildOn { get; init; }

    /// <summary>With a <see cref="BuildOn"/> that is not a member: the folder it builds in (its own releases/ and current, the seed of the next build).</summary>
    public string? BuildPath { get; init; }

    public FleetBatchSize BatchSize { get; init; } = FleetBatchSize.One;

    /// <summary>How long to wait after a batch proved healthy before the next one switches.</summary>
    public TimeSpan BatchWait { get; init; } = TimeSpan.Zero;

    /// <summary>How many hosts work at the same time (the lock is always taken one host after another, and a rollback is never throttled).</summary>
    public int ThrottleLimit { get; init; } = 4;

    /// <summary>URLs probed from the deploying machine through the load balancer after each batch (status only: hosts of both versions answer).</summary>
    public HealthRequest? LoadBalancer { get; init; }

    /// <summary>Fills and prunes no static pool (-SkipStaticPool): the new version's chunks 404 on hosts that have not switched yet.</summary>
    public bool SkipStaticPool { get; init; }

    /// <summary>Who deploys: user@machine.</summary>
    public string User { get; init; } = $"{Environment.UserName}@{Environment.MachineName}";
}

/// <summary>
/// A deploy to several hosts behind a load balancer (Invoke-ZeroDowntimeDeploy with several sessions). The release is
/// built once and shipped; every host checks what it received, installs its dependencies, validates, proves the same
/// build (Identity) and boot-tests it; only when every host passed (the barrier) do hosts switch, batch after batch,
/// each batch proven healthy on each host and through the load balancer. Any failure after the first switch (a host
/// unhealthy, a dropped connection, Ctrl+C, an exception nobody foresaw) rolls every switched host back, all at once,
/// so that the fleet ends on one version. Locks are taken in one fixed order, always released; every host gets its
/// history entry.
/// </summary>
public sealed class FleetOrchestrator(IDeployLog log)
{
    public const string Activity = "Invoke-ZeroDowntimeDeploy (fleet)";

    private readonly object gate = new();
    private Exception? failure;
    private DeployOrchestrator.FleetHost? failedHost;
    private string? failedFleetPhase;

    /// <summary>The members in lock order; a host given twice is refused.</summary>
    public static IReadOnlyList<FleetMember> Order(IReadOnlyList<FleetMember> members)
    {
        var ordered = members.OrderBy(m => m.Key, StringComparer.Ordinal).ToList();
        var duplicate = ordered.GroupBy(m => m.Key, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new AedDeployException(
                "FleetDuplicateHost", FailureKind.InvalidArgument,
                $"{duplicate.Key} is given {duplicate.Count()} times: each host and app path may be deployed once per fleet deploy.", duplicate.Key);
        }

        var inPlace = ordered.FirstOrDefault(m => m.Target.Layout != DeployLayout.Release);
        if (inPlace is not null)
        {
            throw new AedDeployException(
                "FleetNeedsReleaseLayout", FailureKind.InvalidArgument,
                $"A deploy to several hosts needs the Release layout on every host ({inPlace.Key} is {inPlace.Target.Layout}): an InPlace host rebuilds under its running "
                + "workers and cannot wait at the barrier. Set the hosts up with Initialize-DeployTarget, or deploy them one at a time.", inPlace.Key);
        }

        return ordered;
    }

    public async Task<FleetDeploymentRecord> DeployAsync(FleetRequest request, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var members = Order(request.Members);
        var builderIndex = request.BuildOn is null ? 0 : members.ToList().FindIndex(m => ReferenceEquals(m.Session, request.BuildOn));
        if (builderIndex < 0 && request.BuildPath is null)
        {
            throw new AedDeployException(
                "FleetBuildPathMissing", FailureKind.InvalidArgument,
                $"-BuildOn {request.BuildOn} is not one of the fleet's hosts: give -BuildPath, the folder it builds in (its own releases/ and current), or -BuildOn one of the hosts.",
                request.BuildOn);
        }

        var now = DateTimeOffset.UtcNow;
        var releaseId = ReleaseStore.NewReleaseId(now);
        var fleetId = releaseId + "-" + Guid.NewGuid().ToString("N")[..6];
        var hosts = members.Select((m, i) => new DeployOrchestrator(m.Session, m.Target, new HostLog(log, m.Session.HostName, Activity))
            .ForFleet(m.Request, new FleetContext(fleetId, i == builderIndex ? FleetRole.Builder : FleetRole.Receiver, releaseId, request.SkipStaticPool), request.User))
            .ToList();
        var builder = builderIndex < 0 ? null : hosts[builderIndex];
        var external = builderIndex >= 0 ? null
            : new ExternalBuilder(request.BuildOn!, new AppTarget(request.BuildPath!, members[0].Target.AppName, DeployLayout.Release), new HostLog(log, request.BuildOn!.HostName, Activity));
        var batches = request.BatchSize.Split(hosts.Count);
        var record = new FleetDeploymentRecord
        {
            Id = fleetId,
            AppName = members[0].Target.AppName,
            Ref = members[0].Request.Build.Ref,
            BuildHost = builder?.HostName ?? $"{external!.HostName}:{request.BuildPath}",
            User = request.User,
            Batches = batches.Select(b => b.Select(i => hosts[i].HostName).ToArray()).ToList(),
            Hosts = hosts.Select(h => h.Record).ToList(),
        };
        log.Verbose($"Fleet deploy {fleetId} of '{record.Ref}' to {hosts.Count} host(s) in lock order {string.Join(", ", members.Select(m => m.Key))}; "
            + $"built on {record.BuildHost}; batches {string.Join(" | ", record.Batches.Select(b => string.Join(", ", b)))}.");

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        string? archive = null;
        try
        {
            // The build path's lock before the hosts' (every fleet takes them in this order): waiting for a build path in
            // use holds no host, and a build path in use fails the fleet before any host is locked or changed.
            var ok = await StageAsync(hosts, PlanStage.Preflight, request.ThrottleLimit, stop).ConfigureAwait(false)
                && (external is null || await FleetPhaseAsync(record, "BuildPathLock", 4, stop, token => LockBuildPathAsync(external, record, members[0].Request, token)).ConfigureAwait(false))
                && await StageAsync(hosts, PlanStage.Lock, 1, stop).ConfigureAwait(false);
            if (ok)
            {
                // The hosts clone and install while the release is built, on one of them or elsewhere.
                var preparing = StageAsync(hosts, PlanStage.Prepare, request.ThrottleLimit, stop);
                var building = external is null ? Task.FromResult(true)
                    : FleetPhaseAsync(record, "Build", 15, stop, token => BuildElsewhereAsync(external, members[0].Request, releaseId, token));
                ok = await preparing.ConfigureAwait(false) & await building.ConfigureAwait(false);
            }

            if (ok && (external is not null || hosts.Count > 1))
            {
                var source = builder is null ? (external!.Session, external.Log, external.Target, external.Build!) : (builder.Session, builder.Log, builder.Target, builder.Run.RequireBuild());
                ok = await FleetPhaseAsync(record, "Ship", 55, stop, async token =>
                {
                    var (path, shipment, took) = await ShipAsync(source, fleetId, token).ConfigureAwait(false);
                    archive = path;
                    record.ShipBytes = shipment.Bytes;
                    record.ShipDuration = took;
                    foreach (var host in hosts.Where(h => h.Fleet.Role == FleetRole.Receiver))
                    {
                        host.Fleet.Shipment = shipment;
                    }

                    return $"{shipment.Bytes / (1024 * 1024.0):0.0} MiB from {record.BuildHost} in {took.TotalSeconds:0.0} s (sha256 {shipment.Sha256[..12]})";
                }).ConfigureAwait(false)
                && await StageAsync(hosts, PlanStage.Receive, request.ThrottleLimit, stop).ConfigureAwait(false);
            }

            ok = ok && await StageAsync(hosts, PlanStage.Check, request.ThrottleLimit, stop).ConfigureAwait(false)
                && await FleetPhaseAsync(record, "Barrier", 68, stop, _ => Task.FromResult<string?>(Barrier(hosts, record))).ConfigureAwait(false);

            for (var k = 0; ok && k < batches.Count; k++)
            {
                var batch = batches[k].Select(i => hosts[i]).ToList();
                var number = k + 1;
                ok = await FleetPhaseAsync(record, $"Batch {number}", 70 + (25 * k / batches.Count), stop, async token =>
                {
                    // Every host of the batch, none throttled away: a batch is as large as the operator asked for.
                    if (!await StageAsync(batch, PlanStage.GoLive, batch.Count, stop).ConfigureAwait(false))
                    {
                        throw failure!;
                    }

                    return $"{string.Join(", ", batch.Select(h => h.HostName))} live and healthy";
                }).ConfigureAwait(false);
                if (ok && request.LoadBalancer is { Urls.Count: > 0 } balancer)
                {
                    ok = await FleetPhaseAsync(record, $"LoadBalancer {number}", 70 + (25 * k / batches.Count), stop, token => LoadBalancerGateAsync(hosts[0], balancer, token))
                        .ConfigureAwait(false);
                }

                if (ok && k < batches.Count - 1 && request.BatchWait > TimeSpan.Zero)
                {
                    ok = await FleetPhaseAsync(record, $"Wait {number}", 70 + (25 * k / batches.Count), stop, async token =>
                    {
                        await Task.Delay(request.BatchWait, token).ConfigureAwait(false);
                        return $"{request.BatchWait.TotalSeconds:0.#} s";
                    }).ConfigureAwait(false);
                }
            }

            // Only now: Finalize makes the new release each host's rollback target, and a batch-1 host must be able to go back until the last batch is proven.
            ok = ok && await StageAsync(hosts, PlanStage.Complete, request.ThrottleLimit, stop).ConfigureAwait(false);
            if (ok)
            {
                if (external is not null)
                {
                    await external.KeepAsync(cancellationToken).ConfigureAwait(false);
                }

                record.Outcome = DeploymentOutcome.Succeeded;
                foreach (var host in hosts)
                {
                    host.Record.Outcome = DeploymentOutcome.Succeeded;
                }
            }
            else
            {
                await RecoverAsync(hosts, record, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            record.Duration = stopwatch.Elapsed;
            foreach (var host in hosts)
            {
                host.Record.Duration = stopwatch.Elapsed;
            }

            try
            {
                // Every host, whatever happened: the lease renewal stopped, the lock released, the history written (each on its own fresh token).
                var cleanups = hosts.Select(h => h.CleanUpAsync()).ToList();
                if (external is not null)
                {
                    cleanups.Add(external.UnlockAsync());
                }

                await Task.WhenAll(cleanups).ConfigureAwait(false);
            }
            finally
            {
                if (archive is not null)
                {
                    TryDelete(archive);
                }

                log.Progress(Activity, record.Outcome.ToString(), 100);
            }
        }

        if (failure is OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            throw failure;
        }

        return record;
    }

    /// <summary>Runs one stage on <paramref name="hosts"/>, at most <paramref name="limit"/> at a time; the first failure stops the others.</summary>
    private async Task<bool> StageAsync(IReadOnlyList<DeployOrchestrator.FleetHost> hosts, string stage, int limit, CancellationTokenSource stop)
    {
        using var slots = new SemaphoreSlim(Math.Max(1, limit));
        var work = hosts.Select(async host =>
        {
            try
            {
                await slots.WaitAsync(stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex)
            {
                // The fleet stopped before this host's turn: after another host's failure nothing more to say, but a
                // Ctrl+C between two stages is the fleet's failure, or the stage would count as done.
                Fail(ex, null, stage, stop);
                return;
            }

            try
            {
                var failed = await host.RunStageAsync(stage, stop.Token).ConfigureAwait(false);
                if (failed is not null)
                {
                    Fail(failed, host, null, stop);
                }
            }
            finally
            {
                slots.Release();
            }
        });
        await Task.WhenAll(work).ConfigureAwait(false);
        return failure is null && !stop.IsCancellationRequested;
    }

    /// <summary>A phase of the fleet's own (the ship, the barrier, a batch, a gate), recorded in the fleet's record.</summary>
    private async Task<bool> FleetPhaseAsync(
        FleetDeploymentRecord record, string name, int percent, CancellationTokenSource stop, Func<CancellationToken, Task<string?>> run, DeployOrchestrator.FleetHost? on = null)
    {
        log.Progress(Activity, name, percent);
        log.Verbose($"Fleet phase {name}.");
        var stopwatch = Stopwatch.StartNew();
        try
        {
            stop.Token.ThrowIfCancellationRequested();
            var detail = await run(stop.Token).ConfigureAwait(false);
            record.Phases.Add(new PhaseRecord(name, "Succeeded", stopwatch.Elapsed, detail));
            return true;
        }
        catch (Exception ex) when (!PhaseRunner.IsFatal(ex))
        {
            if (ex is not (AedDeployException or OperationCanceledException))
            {
                log.Verbose($"Fleet phase {name} failed with an unexpected {ex.GetType().FullName}:\n{ex}");
            }

            record.Phases.Add(new PhaseRecord(name, ex is OperationCanceledException ? "Cancelled" : "Failed", stopwatch.Elapsed, PhaseRunner.ReasonOf(ex)));
            // A batch fails through its host, already recorded; anything else is the fleet phase's own failure.
            Fail(ex, on, name, stop);
            return false;
        }
    }

    private void Fail(Exception exception, DeployOrchestrator.FleetHost? host, string? fleetPhase, CancellationTokenSource stop)
    {
        lock (gate)
        {
            if (failure is not null)
            {
                return;
            }

            failure = exception;
            failedHost = host;
            failedFleetPhase = fleetPhase;
        }

        // The other hosts stop where they are; whatever went live is rolled back below.
        stop.Cancel();
    }

    private static async Task<string?> LockBuildPathAsync(ExternalBuilder external, FleetDeploymentRecord record, DeployRequest request, CancellationToken cancellationToken)
    {
        var owner = new LockInfo { DeployId = record.Id, User = record.User, Ref = record.Ref, StartedAt = record.StartedAt };
        return await external.LockAsync(owner, request.LockWaitTimeout, request.LockLease, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<string?> BuildElsewhereAsync(ExternalBuilder external, DeployRequest request, string releaseId, CancellationToken cancellationToken)
    {
        var build = request.Build;
        return await external.BuildAsync(
            build with
            {
                ReleaseId = releaseId,
                BuildCommand = request.DeploymentId is { } deploymentId ? DeploymentIdService.BuildCommand(build.BuildCommand, deploymentId) : build.BuildCommand,
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Pulls the build's outputs from where it was built into a local file, once, and hashes it.</summary>
    private static async Task<(string Path, FleetShipment Shipment, TimeSpan Took)> ShipAsync(
        (DeploySession Session, IDeployLog Log, AppTarget Target, BuildResult Build) source, string fleetId, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var build = source.Build;
        var path = Path.Combine(Path.GetTempPath(), $"aeddeploy-{fleetId}.tgz");
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite, Share = FileShare.Read, Options = FileOptions.Asynchronous, BufferSize = 81920,
            };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            await using var file = new FileStream(path, options);
            var pulled = await new RemoteRunner(source.Session, source.Log).RunToStreamAsync(
                RemoteScripts.Command("stream-release.sh"), file, cancellationToken, DeployOrchestrator.ShipTimeout, [source.Target.AppPath, build.ReleaseId!]).ConfigureAwait(false);
            if (!pulled.Succeeded)
            {
                throw new AedDeployException(
                    "FleetShipFailed", FailureKind.InvalidOperation,
                    $"Packing the build's outputs on {source.Session.HostName} failed (exit {pulled.ExitStatus}). Nothing was switched.\n{pulled.Tail(5)}", build.ReleasePath);
            }

            await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            file.Position = 0;
            var sha = Convert.ToHexString(await SHA256.HashDataAsync(file, cancellationToken).ConfigureAwait(false)).ToLowerInvariant();
            return (path, new FleetShipment(path, sha, file.Length, build.Commit, build.BuildId), stopwatch.Elapsed);
        }
        catch
        {
            TryDelete(path);
            throw;
        }
    }

    /// <summary>Every host must hold the same build: the same fingerprint (build id, static files, server manifests, Server Actions key).</summary>
    private static string Barrier(IReadOnlyList<DeployOrchestrator.FleetHost> hosts, FleetDeploymentRecord record)
    {
        var identities = hosts.Select(h => (h.HostName, h.Fleet.Identity ?? throw new InvalidOperationException($"{h.HostName} reached the barrier without an identity."))).ToList();
        RequireSameBuild(identities);
        var first = identities[0].Item2;
        record.BuildId = first.BuildId;
        record.Fingerprint = first.Fingerprint;
        record.Commit = hosts[0].Record.ToCommit;
        return $"{hosts.Count} host(s) passed their boot test and hold build {first.BuildId} (fingerprint {first.Fingerprint[..12]})";
    }

    /// <summary>
    /// Throws FleetBuildMismatch, naming the first host that differs from the first one and what differs (the build id,
    /// the static files, the server manifests, or the Server Actions key and where each took it from).
    /// </summary>
    internal static void RequireSameBuild(IReadOnlyList<(string HostName, BuildIdentity Identity)> identities)
    {
        var first = identities[0];
        foreach (var (hostName, identity) in identities.Skip(1))
        {
            if (identity.Fingerprint == first.Identity.Fingerprint)
            {
                continue;
            }

            var field = identity.BuildId != first.Identity.BuildId ? $"the build id differs ({first.Identity.BuildId} against {identity.BuildId})"
                : identity.StaticHash != first.Identity.StaticHash ? "the static files (.next/static) differ: something on one host changed the shipped build (a postinstall or prepare script writing into .next?)"
                : identity.ServerHash != first.Identity.ServerHash ? "the server manifests differ: something on one host changed the shipped build (a postinstall or prepare script writing into .next?)"
                : $"the Server Actions encryption key differs ({first.Identity.KeySource} on {first.HostName}, {identity.KeySource} on {hostName}): set "
                  + "NEXT_SERVER_ACTIONS_ENCRYPTION_KEY to the same value on every host (the ecosystem file's env or the release's .env files), or on none";
            throw new AedDeployException(
                "FleetBuildMismatch", FailureKind.InvalidResult,
                $"{first.HostName} and {hostName} do not hold the same build: {field}. Nothing was switched.", hostName);
        }
    }

    private static async Task<string?> LoadBalancerGateAsync(DeployOrchestrator.FleetHost any, HealthRequest balancer, CancellationToken cancellationToken)
    {
        var health = await new HealthService(any.Session, any.Target, NullDeployLog.Instance).CheckAsync(balancer, cancellationToken).ConfigureAwait(false);
        if (!health.Healthy)
        {
            throw new AedDeployException(
                "LoadBalancerUnhealthy", FailureKind.InvalidResult, $"Through the load balancer the app is not healthy: {string.Join("; ", health.Problems)}", health);
        }

        return $"healthy through {string.Join(", ", balancer.Urls)} in {health.Duration.TotalSeconds:0.0} s";
    }

    /// <summary>
    /// After any failure: every host that went live is rolled back, all at once, and every other host's new release is
    /// marked failed. A rollback that fails on one host is reported loudly; the others still complete.
    /// </summary>
    private async Task RecoverAsync(IReadOnlyList<DeployOrchestrator.FleetHost> hosts, FleetDeploymentRecord record, CancellationToken cancellationToken)
    {
        var cause = failure!;
        var phase = failedHost?.Record.FailedPhase ?? failedFleetPhase;
        var userCancelled = cause is OperationCanceledException && cancellationToken.IsCancellationRequested;
        // Ctrl+C is nobody's failure: the record names where the fleet was, not a host that happened to notice first.
        var where = userCancelled ? $"cancelled (Ctrl+C) during {phase}{(failedHost is null ? string.Empty : $" on {failedHost.HostName}")}"
            : failedHost is not null ? $"{failedHost.HostName} failed in {phase}" : $"the fleet phase {phase} failed";
        record.ErrorId = failedHost?.Record.ErrorId ?? PhaseRunner.ErrorIdOf(cause);
        record.Reason = userCancelled ? where : $"{where}: {failedHost?.Record.Reason ?? PhaseRunner.ReasonOf(cause)}";
        record.FailedHost = userCancelled ? null : failedHost?.HostName;
        record.FailedPhase = phase;
        if (cause is OperationCanceledException && !userCancelled && failedHost is not null)
        {
            record.Reason = $"{where}: cancelled (injected by -FaultInjection)";
        }

        foreach (var host in hosts.Where(h => h != failedHost))
        {
            // Stopped because another host failed, not for a reason of its own.
            if (cancellationToken.IsCancellationRequested)
            {
                continue;
            }

            if (host.Record.ErrorId is null or PhaseRunner.Cancelled)
            {
                host.Record.ErrorId = "FleetHostStopped";
                host.Record.Reason = $"stopped: {where}";
            }
        }

        var switched = hosts.Where(h => h.Switched).ToList();
        if (switched.Count > 0)
        {
            log.Warning($"The fleet deploy failed ({record.Reason}); rolling back {string.Join(", ", switched.Select(h => h.HostName))}.");
        }

        await Task.WhenAll(hosts.Select(h => h.RecoverAsync())).ConfigureAwait(false);
        var notRolledBack = switched.Where(h => h.Record.Outcome != DeploymentOutcome.RolledBack).ToList();
        if (switched.Count == 0)
        {
            record.Outcome = DeploymentOutcome.Failed;
        }
        else if (notRolledBack.Count == 0)
        {
            record.Outcome = DeploymentOutcome.RolledBack;
            log.Warning($"The fleet is on the previous version again: {string.Join(", ", switched.Select(h => h.HostName))} rolled back; no other host had switched.");
        }
        else
        {
            record.Outcome = DeploymentOutcome.Failed;
            record.Reason += $"; THE ROLLBACK FAILED on {string.Join(", ", notRolledBack.Select(h => h.HostName))}: the fleet is split between versions. "
                + "Run Repair-DeployTarget on " + string.Join(", ", notRolledBack.Select(h => h.HostName));
            foreach (var host in notRolledBack)
            {
                log.Warning($"FLEET ROLLBACK INCOMPLETE: {host.HostName} did not go back ({host.Record.Reason}). Run Repair-DeployTarget on it.");
            }
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
