using System.Diagnostics;
using System.Text.Json;

namespace AedDeploy.Engine;

/// <summary>
/// Sets a server up for the Release layout (Initialize-DeployTarget): releases/, shared/, .aeddeploy/ with the
/// ready-signal preload, a first release when there is none, and PM2 running the app from <c>current</c>.
/// PM2 fixes an app's cwd at its first start, so an app that PM2 runs from elsewhere is moved once, when asked:
/// in cluster mode with no request refused (<see cref="MigrateAsync"/>); in fork mode, whose workers cannot share
/// the port, with delete and start (a short outage).
/// </summary>
public sealed class TargetInitializer(DeploySession session, AppTarget target, IDeployLog log)
{
    private const string Activity = "Initialize-DeployTarget";
    public const string PreloadFile = "ready-preload.cjs";
    private const string MigrationSuffix = "-aedmigrate";
    private const string MigrationEcosystemFile = "migrate.config.cjs";
    private const string ClusterExecMode = "cluster_mode";
    private static readonly TimeSpan CleanupTimeout = TimeSpan.FromSeconds(60);

    public string PreloadPath => $"{target.StatePath}/{PreloadFile}";

    /// <summary>Creates the folders and writes the preload; returns the live release id, or null when there is none yet.</summary>
    public async Task<string?> PrepareAsync(CancellationToken cancellationToken)
    {
        var runner = new RemoteRunner(session, log);
        log.Progress(Activity, $"Creating the Release layout under {target.AppPath}", 5);
        await runner.RunCheckedAsync(
            """
            if [ -d "$1/.git" ]; then
              echo "$1 is a git checkout (an InPlace app). Set the Release layout up at a new path and point PM2 there; the checkout stays as it is." >&2; exit 3
            fi
            mkdir -p -- "$1/releases" "$1/shared" "$2" && printf '%s' "$4" > "$3.tmp" && mv -f -- "$3.tmp" "$3"
            """,
            "InitializeFailed", $"Creating the Release layout under {target.AppPath}", cancellationToken,
            arguments: [target.AppPath, target.StatePath, PreloadPath, RemoteScripts.Get(PreloadFile)]).ConfigureAwait(false);
        return await new ReleaseStore(session, target, log).GetLiveIdAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Builds and switches to a first release.</summary>
    public async Task<string> CreateFirstReleaseAsync(BuildRequest request, CancellationToken cancellationToken)
    {
        log.Progress(Activity, $"Building the first release from {request.Ref}", 20);
        var build = await new BuildService(session, target, log).BuildAsync(request, cancellationToken).ConfigureAwait(false);
        await new ArtifactInspector(session, target, log).RequireCompleteAsync(build.ReleasePath, build.ReleaseId, "The first release", cancellationToken).ConfigureAwait(false);
        var store = new ReleaseStore(session, target, log);
        await store.SwitchAsync(build.ReleaseId!, cancellationToken).ConfigureAwait(false);
        await store.SetRollbackTargetAsync(build.ReleaseId!, cancellationToken).ConfigureAwait(false);
        return build.ReleaseId!;
    }

    /// <summary>How PM2 runs the app now: not at all, from <c>current</c>, or pinned elsewhere; in which exec mode; and whether a migration cut short left its temporary app.</summary>
    public async Task<Pm2Placement> InspectPm2Async(CancellationToken cancellationToken)
    {
        var pm2 = new Pm2Client(new RemoteRunner(session, log), target);
        var processes = await pm2.ListAsync(cancellationToken).ConfigureAwait(false);
        var leftover = await pm2.ListNamedAsync(MigrationName, cancellationToken).ConfigureAwait(false);
        return new Pm2Placement(
            processes.Count > 0,
            processes.Count > 0 && processes.All(p => p.Cwd.TrimEnd('/') == target.LivePath),
            processes.FirstOrDefault()?.Cwd ?? string.Empty,
            processes.Count > 0 && processes.All(p => p.ExecMode == ClusterExecMode),
            leftover.Count > 0);
    }

    /// <summary>
    /// Starts the app from <c>current</c> and waits until every instance is online and settled. With
    /// <paramref name="deleteFirst"/> the app is deleted from PM2 first: the fork-mode move, which refuses requests
    /// until the new workers listen. A temporary app a migration cut short left is deleted once the app serves.
    /// </summary>
    public async Task<IReadOnlyList<Pm2Process>> StartFromCurrentAsync(bool deleteFirst, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var runner = new RemoteRunner(session, log);
        var pm2 = new Pm2Client(runner, target);
        log.Progress(Activity, $"Starting {target.AppName} from {target.LivePath}", 70);
        var ecosystem = await pm2.InspectEcosystemAsync(target.LivePath, cancellationToken).ConfigureAwait(false);
        await runner.RunCheckedAsync(
            """
            cd "$1" || exit 1
            if [ "$5" = delete ]; then "$2" delete "$4" || exit 1; fi
            "$2" start "$3" --only "$4"
            """,
            "Pm2StartFailed", $"Starting {target.AppName} from {target.LivePath}", cancellationToken, timeout,
            [target.LivePath, target.Pm2Command, target.EcosystemFile, target.AppName, deleteFirst ? "delete" : "keep"]).ConfigureAwait(false);
        var processes = RequireCurrentCwd(await WaitSettledAsync(pm2, target.AppName, ecosystem, timeout, cancellationToken).ConfigureAwait(false));
        await FinishLeftoverMigrationAsync(runner, cancellationToken).ConfigureAwait(false);
        return processes;
    }

    /// <summary>
    /// For an app that already runs from <c>current</c> while PM2 still runs the temporary app of a migration cut
    /// short: once the app is settled, the temporary app is deleted. When it is not settled, the temporary app
    /// keeps serving and the failure says so.
    /// </summary>
    public async Task<IReadOnlyList<Pm2Process>> FinishMigrationAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var runner = new RemoteRunner(session, log);
        var pm2 = new Pm2Client(runner, target);
        IReadOnlyList<Pm2Process> processes;
        try
        {
            var ecosystem = await pm2.InspectEcosystemAsync(target.LivePath, cancellationToken).ConfigureAwait(false);
            processes = RequireCurrentCwd(await WaitSettledAsync(pm2, target.AppName, ecosystem, timeout, cancellationToken).ConfigureAwait(false));
        }
        catch (Exception ex) when (!PhaseRunner.IsFatal(ex))
        {
            throw MigrationIncomplete($"{target.AppName} runs from {target.LivePath} but is not up", ex);
        }

        await FinishLeftoverMigrationAsync(runner, cancellationToken).ConfigureAwait(false);
        return processes;
    }

    /// <summary>
    /// Moves a cluster-mode app that PM2 runs from elsewhere to <c>current</c> refusing no request: its workers
    /// are started from <c>current</c> first under <see cref="MigrationName"/>, beside the old ones (the workers
    /// of one PM2 daemon share the listening socket: its cluster primary holds it while any worker listens);
    /// once they are settled, the old app is deleted and started again from <c>current</c> under its own name,
    /// and, once that is settled, the temporary app is deleted.
    /// </summary>
    /// <remarks>
    /// PM2 cannot rename an app from the command line: the temporary app comes from a small ecosystem file in
    /// <c>.aeddeploy/</c> that requires the app's own and renames the app in it. If the temporary app does not
    /// come up, it is deleted and the old app was never touched (Pm2MigrationNotReady). Once the old app is
    /// deleted, a failure leaves the temporary app serving (Pm2MigrationIncomplete, with the way to finish).
    /// </remarks>
    public async Task<IReadOnlyList<Pm2Process>> MigrateAsync(string fromCwd, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var runner = new RemoteRunner(session, log);
        var pm2 = new Pm2Client(runner, target);
        var ecosystem = await pm2.InspectEcosystemAsync(target.LivePath, cancellationToken).ConfigureAwait(false);
        if (ecosystem is not { Found: true })
        {
            throw new AedDeployException(
                "Pm2EcosystemUnusable", FailureKind.InvalidOperation,
                $"{target.EcosystemFile} in {target.LivePath} {(ecosystem is null ? "cannot be loaded" : $"defines no app named '{target.AppName}'")}, so {target.AppName} "
                + $"cannot be started from there. PM2 still runs it from {fromCwd}, untouched. Fix the file in the live release, then run Initialize-DeployTarget again.",
                target.EcosystemFile);
        }

        // A leftover of a migration cut short runs beside the old workers, which still serve: it goes first.
        await RemoveMigrationAppAsync(runner, CancellationToken.None).ConfigureAwait(false);
        log.Progress(Activity, $"Starting {MigrationName} from {target.LivePath} beside the workers running from {fromCwd}", 55);
        try
        {
            await runner.RunCheckedAsync(
                """
                printf '%s' "$5" > "$3.tmp" && mv -f -- "$3.tmp" "$3" || exit 1
                cd "$1" || exit 1
                "$2" start "$3" --only "$4"
                """,
                "Pm2StartFailed", $"Starting {MigrationName} from {target.LivePath}", cancellationToken, timeout,
                [target.LivePath, target.Pm2Command, MigrationEcosystemPath, MigrationName,
                 MigrationEcosystem($"{target.LivePath}/{target.EcosystemFile}", target.AppName, MigrationName)]).ConfigureAwait(false);
            RequireCurrentCwd(await WaitSettledAsync(pm2, MigrationName, ecosystem, timeout, cancellationToken).ConfigureAwait(false));
        }
        catch (Exception ex) when (!PhaseRunner.IsFatal(ex))
        {
            var removed = await RemoveMigrationAppAsync(runner, CancellationToken.None).ConfigureAwait(false);
            if (ex is OperationCanceledException && removed)
            {
                throw;
            }

            throw new AedDeployException(
                "Pm2MigrationNotReady", ex is OperationCanceledException ? FailureKind.Cancelled : FailureKind.InvalidResult,
                $"{target.AppName} was not moved: its workers started from {target.LivePath} as {MigrationName} did not come up ({PhaseRunner.FirstLine(ex.Message)}). "
                + (removed
                    ? $"{MigrationName} was deleted; PM2 still runs {target.AppName} from {fromCwd}, untouched, and no request was refused. "
                    : $"Deleting {MigrationName} failed too: run '{target.Pm2Command} delete {MigrationName}'; {target.AppName} still runs from {fromCwd}, untouched. ")
                + "Fix what stops the app from starting in the live release, then run Initialize-DeployTarget again.",
                target.AppName, ex)
            {
                AppOutput = (ex as AedDeployException)?.AppOutput,
            };
        }

        log.Progress(Activity, $"Replacing the workers that ran from {fromCwd} with {target.AppName} from {target.LivePath}", 75);
        IReadOnlyList<Pm2Process> processes;
        try
        {
            await runner.RunCheckedAsync(
                """
                cd "$1" || exit 1
                "$2" delete "$4" || exit 1
                "$2" start "$3" --only "$4"
                """,
                "Pm2StartFailed", $"Deleting {target.AppName} and starting it from {target.LivePath}", cancellationToken, timeout,
                [target.LivePath, target.Pm2Command, target.EcosystemFile, target.AppName]).ConfigureAwait(false);
            processes = RequireCurrentCwd(await WaitSettledAsync(pm2, target.AppName, ecosystem, timeout, cancellationToken).ConfigureAwait(false));
        }
        catch (Exception ex) when (!PhaseRunner.IsFatal(ex))
        {
            throw MigrationIncomplete($"{target.AppName} did not start again from {target.LivePath}", ex);
        }

        await FinishLeftoverMigrationAsync(runner, cancellationToken).ConfigureAwait(false);
        return processes;
    }

    /// <summary>The name the app runs under in PM2 while it moves to <c>current</c>, beside its old workers.</summary>
    public string MigrationName => MigrationNameFor(target.AppName);

    /// <summary>PM2 reads a file as an ecosystem by its name's ending (.config.cjs).</summary>
    public string MigrationEcosystemPath => $"{target.StatePath}/{MigrationEcosystemFile}";

    internal static string MigrationNameFor(string appName) => appName + MigrationSuffix;

    /// <summary>
    /// The temporary ecosystem file: the app's own file required (as PM2 would load it, so whatever it computes,
    /// its cwd, env and node_args, is the same) and the app in it renamed. It may export the app, a list, or { apps }.
    /// </summary>
    internal static string MigrationEcosystem(string ecosystemPath, string appName, string migrationName) =>
        $$"""
        // Written by Initialize-DeployTarget while it moves {{appName}} to current; removed when it is done.
        const config = require({{JsonSerializer.Serialize(ecosystemPath)}});
        const apps = [].concat(config && config.apps ? config.apps : config);
        module.exports = { apps: apps.filter((app) => app && app.name === {{JsonSerializer.Serialize(appName)}}).map((app) => ({ ...app, name: {{JsonSerializer.Serialize(migrationName)}} })) };

        """;

    /// <summary>
    /// Whether an app's instances are up: PM2 lists some, all online, and the same processes (pids and restart
    /// counts) as in the list before, so a worker in a crash loop caught online between two crashes does not pass.
    /// </summary>
    internal static bool IsSettled(IReadOnlyList<Pm2Process>? previous, IReadOnlyList<Pm2Process> current) =>
        previous is { Count: > 0 } && current.Count > 0 && previous.Concat(current).All(p => p.IsOnline)
        && previous.Select(p => (p.PmId, p.Pid, p.RestartTime)).Order().SequenceEqual(current.Select(p => (p.PmId, p.Pid, p.RestartTime)).Order());

    /// <summary>
    /// Waits until <paramref name="name"/>'s instances are settled (<see cref="IsSettled"/>). With wait_ready and
    /// the ready preload PM2 reports an instance online once it answered HTTP (the criterion reloads rely on);
    /// without them PM2 cannot tell, so listen_timeout is waited on top, as PM2 itself would, with a warning.
    /// </summary>
    private async Task<IReadOnlyList<Pm2Process>> WaitSettledAsync(Pm2Client pm2, string name, EcosystemInfo? ecosystem, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        IReadOnlyList<Pm2Process>? previous = null;
        while (true)
        {
            var processes = await pm2.ListNamedAsync(name, cancellationToken).ConfigureAwait(false);
            if (IsSettled(previous, processes))
            {
                if (ecosystem is null || !Pm2Client.SignalsReady(ecosystem))
                {
                    var wait = TimeSpan.FromMilliseconds(ecosystem?.ListenTimeout ?? 3000);
                    log.Warning(
                        $"{name} does not tell PM2 when it answers, so its workers are given listen_timeout ({wait.TotalMilliseconds:0} ms) before the next step; requests may be refused "
                        + "if they are not listening by then. Add wait_ready: true and node_args: ['-r', '<AppPath>/.aeddeploy/ready-preload.cjs'] to the ecosystem file (see about_AedDeploy).");
                    await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                }

                return processes;
            }

            if (stopwatch.Elapsed > timeout)
            {
                throw new AedDeployException(
                    "Pm2StartFailed", FailureKind.InvalidResult,
                    $"{name} did not come online from {target.LivePath} within {timeout.TotalSeconds:0} s: {(processes.Count == 0 ? "PM2 lists no instance of it" : string.Join(", ", processes))}",
                    name)
                {
                    AppOutput = processes.Count == 0 ? null : await pm2.ReadLogsSinceAsync(
                        processes.SelectMany(p => new[] { new Pm2LogMark(p.OutLogPath, 0, false), new Pm2LogMark(p.ErrorLogPath, 0, true) }).Where(m => m.Path.Length > 0).ToList(),
                        cancellationToken).ConfigureAwait(false),
                };
            }

            previous = processes;
            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
        }
    }

    private IReadOnlyList<Pm2Process> RequireCurrentCwd(IReadOnlyList<Pm2Process> processes)
    {
        // PM2 keeps the cwd the ecosystem file gives: only the symlink path follows later switches.
        var pinned = processes.FirstOrDefault(p => p.Cwd.TrimEnd('/') != target.LivePath);
        return pinned is null
            ? processes
            : throw new AedDeployException(
                "Pm2CwdNotCurrent", FailureKind.InvalidResult,
                $"PM2 started {pinned.Name} with cwd {pinned.Cwd}, not {target.LivePath}: set cwd: '{target.LivePath}' in {target.EcosystemFile}, "
                + "or workers will stay on the first release after a switch.", pinned);
    }

    /// <summary>Deletes the temporary app once the app itself serves from current; a failure says how to finish.</summary>
    private async Task FinishLeftoverMigrationAsync(RemoteRunner runner, CancellationToken cancellationToken)
    {
        if (!await RemoveMigrationAppAsync(runner, cancellationToken).ConfigureAwait(false))
        {
            throw new AedDeployException(
                "Pm2MigrationIncomplete", FailureKind.InvalidResult,
                $"{target.AppName} runs from {target.LivePath}, but deleting {MigrationName}, the temporary app that served while it moved, failed: "
                + $"run '{target.Pm2Command} delete {MigrationName}' on {session.HostName}.",
                MigrationName);
        }
    }

    /// <summary>Deletes the temporary app when PM2 runs it, and its ecosystem file; false when that failed (logged).</summary>
    private async Task<bool> RemoveMigrationAppAsync(RemoteRunner runner, CancellationToken cancellationToken)
    {
        try
        {
            var listed = await new Pm2Client(runner, target).ListNamedAsync(MigrationName, cancellationToken).ConfigureAwait(false);
            var result = await runner.RunAsync(
                """
                if [ "$4" = delete ]; then "$1" delete "$2" || exit 1; fi
                rm -f -- "$3"
                """,
                cancellationToken, CleanupTimeout, [target.Pm2Command, MigrationName, MigrationEcosystemPath, listed.Count > 0 ? "delete" : "keep"]).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                log.Warning($"Deleting {MigrationName} from PM2 failed (exit {result.ExitStatus}): {result.Tail(3)}");
            }

            return result.Succeeded;
        }
        catch (Exception ex) when (!PhaseRunner.IsFatal(ex) && ex is not OperationCanceledException)
        {
            log.Warning($"Deleting {MigrationName} from PM2 failed: {ex.Message}");
            return false;
        }
    }

    private AedDeployException MigrationIncomplete(string what, Exception ex) =>
        new(
            "Pm2MigrationIncomplete", ex is OperationCanceledException ? FailureKind.Cancelled : FailureKind.InvalidResult,
            $"The move of {target.AppName} to {target.LivePath} is not finished: {what} ({PhaseRunner.FirstLine(ex.Message)}). PM2 still runs {MigrationName} "
            + $"from {target.LivePath}, which serves the app meanwhile: do not delete it. To finish, fix what stops {target.AppName} from starting, then run "
            + $"Initialize-DeployTarget again, or on {session.HostName}: cd {target.LivePath} && {target.Pm2Command} start {target.EcosystemFile} --only {target.AppName}, "
            + $"and once every instance is online, {target.Pm2Command} delete {MigrationName}.",
            MigrationName, ex)
        {
            AppOutput = (ex as AedDeployException)?.AppOutput,
        };
}

/// <summary>How PM2 runs an app before Initialize-DeployTarget moves it.</summary>
/// <param name="Running">PM2 lists at least one instance of it.</param>
/// <param name="FromCurrent">Every instance has the <c>current</c> link as its PM2 cwd.</param>
/// <param name="Cwd">The PM2 cwd of its first instance (empty when it does not run).</param>
/// <param name="ClusterMode">Every instance runs in cluster mode, so new workers can share the port with them.</param>
/// <param name="MigrationLeftover">PM2 still runs the temporary app of a migration cut short.</param>
public sealed record Pm2Placement(bool Running, bool FromCurrent, string Cwd, bool ClusterMode, bool MigrationLeftover);
