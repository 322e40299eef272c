using System.Diagnostics;

namespace AedDeploy.Engine;

/// <summary>
/// Reloads the app's PM2 workers one at a time (Invoke-Pm2Reload) and proves it worked from the process list:
/// PM2 exits 0 when a new worker crashes, and kills old workers whether or not the new ones are ready.
/// </summary>
public sealed class ReloadService(DeploySession session, AppTarget target, IDeployLog log)
{
    private const string Activity = "Invoke-Pm2Reload";

    private static readonly TimeSpan SettleLimit = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Reloads and checks. Every new worker must run what was built: from the release <c>current</c> points at
    /// (Release) or from the checkout (InPlace), by PM2's cwd and by the worker's own. The previous ecosystem
    /// file (Release: in the folder the old workers ran from; InPlace: at <paramref name="previousCommit"/>, by default git's ORIG_HEAD, the commit before the last reset) is
    /// compared with the new one, and the env keys the new file dropped are reported (PM2 keeps them).
    /// </summary>
    /// <param name="recovery">
    /// For a rollback: a reload that was cut short is let finish its current worker and then overridden;
    /// workers that are not online (a crash loop) are restarted instead of reloaded, since there is no healthy
    /// worker left to keep, and restart counts are not compared; health is proven after.
    /// </param>
    public async Task<ReloadResult> ReloadAsync(TimeSpan timeout, CancellationToken cancellationToken, bool recovery = false, string? previousCommit = null)
    {
        var stopwatch = Stopwatch.StartNew();
        var runner = new RemoteRunner(session, log);
        var pm2 = new Pm2Client(runner, target);
        var warnings = new List<string>();

        var interrupted = recovery && await SettleInterruptedReloadAsync(pm2, cancellationToken).ConfigureAwait(false);
        log.Progress(Activity, "Reading the PM2 process list", 5);
        var before = await pm2.ListRequiredAsync(cancellationToken).ConfigureAwait(false);
        var folders = await runner.RunAsync(
            """
            readlink -f -- "$1"; readlink -f "/proc/$2/cwd" 2>/dev/null || true
            """,
            cancellationToken, arguments: [target.LivePath, before[0].Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]).ConfigureAwait(false);
        var folderLines = folders.Output.Split('\n', StringSplitOptions.TrimEntries);
        var expectedFolder = folderLines[0];
        var previousFolder = folderLines.Length > 1 && folderLines[1].Length > 0 && folderLines[1] != folderLines[0] ? folderLines[1] : null;
        var previousVersion = previousFolder is not null ? null : target.Layout == DeployLayout.InPlace ? previousCommit ?? "ORIG_HEAD" : null;
        var ecosystem = await pm2.InspectEcosystemAsync(target.LivePath, cancellationToken).ConfigureAwait(false);
        if (ecosystem is not null && !Pm2Client.SignalsReady(ecosystem))
        {
            warnings.Add(
                $"The app does not tell PM2 when it is ready, so each of its {before.Count} instances waits up to listen_timeout ({ecosystem.ListenTimeout} ms) and an old worker "
                + "may be killed before its replacement answers. Add wait_ready: true and node_args: ['-r', '<AppPath>/.aeddeploy/ready-preload.cjs'] to the ecosystem file (see about_AedDeploy).");
        }

        var stale = await FindStaleEnvironmentKeysAsync(pm2, ecosystem, before, previousFolder, previousVersion, cancellationToken).ConfigureAwait(false);
        if (stale.Count > 0)
        {
            warnings.Add(
                $"PM2 keeps env keys removed from the ecosystem file: the app still gets {string.Join(", ", stale)}. To drop them, set them to '' in the file, "
                + $"or recreate the app ('pm2 delete {target.AppName}' then 'pm2 start {target.EcosystemFile}', which is not zero-downtime).");
        }

        foreach (var warning in warnings)
        {
            log.Warning(warning);
        }

        var restart = recovery && before.Any(p => !p.IsOnline);
        log.Progress(Activity, $"{(restart ? "Restarting" : "Reloading")} {before.Count} instance(s) of {target.AppName}", 20);
        if (restart)
        {
            log.Warning($"{target.AppName} has instances that are not online ({string.Join(", ", before.Where(p => !p.IsOnline).Select(p => $"{p.PmId}: {p.Status}"))}): restarting instead of reloading.");
        }

        // The new workers append to the same per-instance log files: what they write from here on is theirs.
        var logMarks = await pm2.MarkLogsAsync(before, cancellationToken).ConfigureAwait(false);
        var reload = await pm2.ReloadAsync(timeout, cancellationToken, restart, force: interrupted).ConfigureAwait(false);
        if (restart && Failed(reload))
        {
            log.Warning($"pm2 restart failed on the crash-looping workers ({reload.Tail(3)}); deleting {target.AppName} from PM2 and starting it again.");
            reload = await pm2.RecreateAsync(timeout, cancellationToken).ConfigureAwait(false);
        }

        var after = await pm2.ListAsync(cancellationToken).ConfigureAwait(false);
        var result = new ReloadResult(session, target)
        {
            ReleasePath = target.Layout == DeployLayout.Release ? expectedFolder : null,
            Before = before,
            After = after,
            StaleEnvironmentKeys = stale,
            Warnings = warnings,
            Duration = stopwatch.Elapsed,
            LogMarks = logMarks,
        };

        var problems = new List<string>();
        if (Failed(reload))
        {
            problems.Add($"pm2 {(restart ? "restart" : "reload")} failed (exit {reload.ExitStatus}): {reload.Tail(5)}");
        }

        problems.AddRange(recovery ? CheckOnline(before, after) : CheckInstances(before, after));
        if (problems.Count == 0)
        {
            problems.AddRange(await CheckWorkingFoldersAsync(runner, after, expectedFolder, cancellationToken).ConfigureAwait(false));
        }

        if (problems.Count == 0)
        {
            // Only once every listed instance is up: before that, PM2 may still be starting workers it will list.
            foreach (var ended in await pm2.EndStrayWorkersAsync(after, cancellationToken).ConfigureAwait(false))
            {
                warnings.Add($"PM2 had lost track of a worker that still took requests: {ended}.");
                log.Warning(warnings[^1]);
            }
        }

        if (problems.Count > 0)
        {
            throw new AedDeployException(
                problems[0].StartsWith("pm2 ", StringComparison.Ordinal) ? "Pm2ReloadFailed" : "Pm2ReloadUnhealthy",
                FailureKind.InvalidResult,
                $"Reloading {target.AppName} on {session.HostName} did not work: " + string.Join("; ", problems),
                result)
            {
                AppOutput = await pm2.ReadLogsSinceAsync(logMarks, cancellationToken).ConfigureAwait(false),
            };
        }

        log.Progress(Activity, "Reloaded", 100);
        return result;
    }

    /// <summary>
    /// What the app's workers wrote to their PM2 logs since <paramref name="reload"/> began (bounded; null when
    /// nothing): for a failure found after the reload, such as the health check's.
    /// </summary>
    public Task<string?> ReadAppOutputSinceAsync(ReloadResult reload, CancellationToken cancellationToken) =>
        new Pm2Client(new RemoteRunner(session, log), target).ReadLogsSinceAsync(reload.LogMarks, cancellationToken);

    /// <summary>Every instance must be back, online, restarted exactly once, in a new process.</summary>
    internal static IEnumerable<string> CheckInstances(IReadOnlyList<Pm2Process> before, IReadOnlyList<Pm2Process> after)
    {
        if (after.Count != before.Count)
        {
            yield return $"{before.Count} instance(s) before the reload, {after.Count} after";
        }

        foreach (var old in before)
        {
            var now = after.FirstOrDefault(p => p.PmId == old.PmId);
            if (now is null)
            {
                yield return $"instance {old.PmId} is gone";
            }
            else if (!now.IsOnline)
            {
                yield return $"instance {old.PmId} is {now.Status}";
            }
            else if (now.RestartTime == old.RestartTime || now.Pid == old.Pid)
            {
                yield return $"instance {old.PmId} was not restarted (pid {now.Pid}, restarts {now.RestartTime})";
            }
            else if (now.RestartTime > old.RestartTime + 1)
            {
                yield return $"instance {old.PmId} restarted {now.RestartTime - old.RestartTime} times (crash loop)";
            }
        }
    }

    // PM2 can exit 0 and still report an error; it colours its tags, so they are matched without the colour codes.
    private static bool Failed(CommandResult result) =>
        !result.Succeeded || CommandResult.StripAnsi(result.Output + result.Error).Contains("[PM2][ERROR]", StringComparison.Ordinal);

    /// <summary>After a recovery, every instance must be back and online; its stability is proven by the health check.</summary>
    internal static IEnumerable<string> CheckOnline(IReadOnlyList<Pm2Process> before, IReadOnlyList<Pm2Process> after)
    {
        if (after.Count != before.Count)
        {
            yield return $"{before.Count} instance(s) before, {after.Count} after";
        }

        foreach (var process in after.Where(p => !p.IsOnline))
        {
            yield return $"instance {process.PmId} is {process.Status}";
        }
    }

    private async Task<IEnumerable<string>> CheckWorkingFoldersAsync(RemoteRunner runner, IReadOnlyList<Pm2Process> after, string expectedFolder, CancellationToken cancellationToken)
    {
        // pm_cwd is what PM2 follows on every reload; /proc/<pid>/cwd shows where the worker really runs.
        var resolved = await runner.RunAsync(
            """
            readlink -f -- "$1"; shift
            while [ "$#" -ge 2 ]; do printf '%s\t%s\t%s\n' "$1" "$(readlink -f "/proc/$1/cwd" 2>/dev/null)" "$(readlink -f -- "$2" 2>/dev/null)"; shift 2; done
            """,
            cancellationToken,
            arguments: [expectedFolder, .. after.SelectMany(p => new[] { p.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), p.Cwd })]).ConfigureAwait(false);
        var lines = resolved.Output.TrimEnd('\n').Split('\n');
        var workers = after.Select((process, i) =>
        {
            var parts = (lines.Length > i + 1 ? lines[i + 1] : string.Empty).Split('\t');
            return new ReloadedWorker(process, parts.Length > 1 ? parts[1] : string.Empty, parts.Length > 2 ? parts[2] : string.Empty);
        }).ToList();
        return CheckWorkingFolders(target, lines[0].Trim(), workers);
    }

    /// <summary>
    /// Every worker runs what was built: its /proc cwd resolves to <paramref name="expected"/> (the release current
    /// points at, or the checkout). Release: pm_cwd must stay the <c>current</c> link, or the next reload stays
    /// pinned; InPlace: pm_cwd must resolve to the checkout.
    /// </summary>
    internal static IEnumerable<string> CheckWorkingFolders(AppTarget target, string expected, IReadOnlyList<ReloadedWorker> workers)
    {
        foreach (var worker in workers)
        {
            var process = worker.Process;
            if (target.Layout == DeployLayout.Release && process.Cwd.TrimEnd('/') != target.LivePath)
            {
                yield return $"instance {process.PmId} has PM2 cwd {process.Cwd}, not {target.LivePath}: PM2 keeps it pinned to one release (run Initialize-DeployTarget to move the app to {target.LivePath})";
            }
            else if (target.Layout == DeployLayout.InPlace && worker.ResolvedPm2Cwd != expected)
            {
                yield return $"instance {process.PmId} has PM2 cwd {process.Cwd}, not the checkout {target.AppPath}: PM2 runs the app from another folder (deploy that folder with its own -AppPath)";
            }

            if (worker.WorkerCwd != expected)
            {
                yield return $"worker pid {process.Pid} runs in {(worker.WorkerCwd.Length > 0 ? worker.WorkerCwd : "an unknown folder")}, not {expected}";
            }
        }
    }

    /// <summary>
    /// A reload cut short (Ctrl+C, a dropped connection) leaves PM2's reload lock for 30 s, and its daemon still
    /// replacing the worker it had started on. Reloading that worker again before it is done makes PM2 lose
    /// track of the old one, which goes on serving. Waits until every instance is online twice in a row (or
    /// the lock is released, or 30 s), and returns whether the lock was held: the rollback's reload then forces it.
    /// </summary>
    private async Task<bool> SettleInterruptedReloadAsync(Pm2Client pm2, CancellationToken cancellationToken)
    {
        var age = await pm2.GetReloadLockAgeAsync(cancellationToken).ConfigureAwait(false);
        if (age is null)
        {
            return false;
        }

        log.Verbose($"PM2's reload lock was taken {age.Value.TotalSeconds:0.0} s ago by a reload that did not end; letting PM2 finish the worker it was replacing.");
        var waited = Stopwatch.StartNew();
        var onlineInARow = 0;
        while (waited.Elapsed < SettleLimit && onlineInARow < 2)
        {
            var processes = await pm2.ListAsync(cancellationToken).ConfigureAwait(false);
            onlineInARow = processes.Count > 0 && processes.All(p => p.IsOnline) ? onlineInARow + 1 : 0;
            if (onlineInARow < 2)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
                if (await pm2.GetReloadLockAgeAsync(cancellationToken).ConfigureAwait(false) is null)
                {
                    return false;
                }
            }
        }

        return true;
    }

    private async Task<IReadOnlyList<string>> FindStaleEnvironmentKeysAsync(
        Pm2Client pm2, EcosystemInfo? current, IReadOnlyList<Pm2Process> running, string? previousFolder, string? previousCommit, CancellationToken cancellationToken)
    {
        if (current is null || (previousFolder is null && previousCommit is null))
        {
            return [];
        }

        var previous = previousFolder is not null
            ? await pm2.InspectEcosystemAsync(previousFolder, cancellationToken).ConfigureAwait(false)
            : await pm2.InspectEcosystemAsync(target.LivePath, cancellationToken, previousCommit).ConfigureAwait(false);
        if (previous is null)
        {
            return [];
        }

        var runningKeys = running.SelectMany(p => p.EnvironmentKeys).ToHashSet(StringComparer.Ordinal);
        return previous.EnvKeys.Except(current.EnvKeys, StringComparer.Ordinal).Where(runningKeys.Contains).Order(StringComparer.Ordinal).ToList();
    }
}

/// <summary>A PM2 worker with its working folder (/proc/&lt;pid&gt;/cwd) and its pm_cwd, both resolved.</summary>
internal sealed record ReloadedWorker(Pm2Process Process, string WorkerCwd, string ResolvedPm2Cwd);
