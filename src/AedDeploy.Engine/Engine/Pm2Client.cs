using System.Globalization;

namespace AedDeploy.Engine;

/// <summary>Talks to PM2 on the server for one app: lists its instances and reloads it.</summary>
public sealed class Pm2Client(RemoteRunner runner, AppTarget target)
{
    private static readonly TimeSpan ListTimeout = TimeSpan.FromSeconds(60);

    // Of a stdout log, only the last few lines when there are stderr logs: start-up banners, mostly.
    private const int OutLogLines = 5;

    /// <summary>The app's instances, from <c>pm2 jlist</c> (whose output, holding the app's environment, is never logged).</summary>
    public Task<IReadOnlyList<Pm2Process>> ListAsync(CancellationToken cancellationToken) => ListNamedAsync(target.AppName, cancellationToken);

    /// <summary>The instances of the app PM2 runs as <paramref name="name"/> (Initialize-DeployTarget's temporary app, beside the app itself).</summary>
    public async Task<IReadOnlyList<Pm2Process>> ListNamedAsync(string name, CancellationToken cancellationToken)
    {
        var result = await runner.RunAsync("\"$1\" jlist", cancellationToken, ListTimeout, [target.Pm2Command], sensitiveOutput: true)
            .ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new AedDeployException(
                "Pm2ListFailed", FailureKind.InvalidOperation,
                $"'{target.Pm2Command} jlist' failed on {runner.Shell.HostName} (exit {result.ExitStatus}). Is PM2 installed and on the PATH of non-interactive SSH sessions? "
                + "Give its full path with -Pm2Path.",
                runner.Shell.HostName);
        }

        return Pm2Process.ParseJlist(result.Output).Where(p => p.Name == name).OrderBy(p => p.PmId).ToList();
    }

    /// <summary>The names of every app PM2 runs for the session's user, for tab completion.</summary>
    public static async Task<IReadOnlyList<string>> ListAppNamesAsync(RemoteRunner runner, string pm2Command, CancellationToken cancellationToken)
    {
        var result = await runner.RunAsync("\"$1\" jlist", cancellationToken, ListTimeout, [pm2Command], sensitiveOutput: true).ConfigureAwait(false);
        return result.Succeeded ? Pm2Process.ParseJlist(result.Output).Select(p => p.Name).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList() : [];
    }

    /// <summary>The app's instances; fails clearly when PM2 does not know the app.</summary>
    public async Task<IReadOnlyList<Pm2Process>> ListRequiredAsync(CancellationToken cancellationToken)
    {
        var processes = await ListAsync(cancellationToken).ConfigureAwait(false);
        if (processes.Count == 0)
        {
            throw new AedDeployException(
                "Pm2AppNotFound", FailureKind.NotFound,
                $"PM2 on {runner.Shell.HostName} runs no app named '{target.AppName}'. Start it once from {target.LivePath} "
                + $"('pm2 start {target.EcosystemFile}'), or check -AppName.",
                target.AppName);
        }

        return processes;
    }

    /// <summary>
    /// Runs <c>pm2 reload</c> (or, with <paramref name="restart"/>, <c>pm2 restart</c>) from the live folder with
    /// the ecosystem file, or by name when there is none. PM2's exit status is not trusted on its own: the
    /// caller checks the instances afterwards. A reload only replaces online workers; workers in a crash
    /// loop ('launching') answer "process already started" and need a restart.
    /// </summary>
    /// <remarks>
    /// PM2 refuses a reload for 30 s after another one started (its reload.lock, which a reload cut short
    /// never clears): a reload waits for the other to end, a <paramref name="force"/>d one (a rollback taking
    /// over from the reload it interrupted) goes ahead.
    /// </remarks>
    public Task<CommandResult> ReloadAsync(TimeSpan timeout, CancellationToken cancellationToken, bool restart = false, bool force = false) =>
        runner.RunScriptAsync(
            "pm2-reload.sh",
            [target.LivePath, target.Pm2Command, target.EcosystemFile, target.AppName, restart ? "restart" : "reload", force ? "force" : string.Empty],
            cancellationToken, timeout);

    /// <summary>
    /// How long ago a reload that has not ended took PM2's reload lock; null when no reload holds it
    /// (PM2 itself ignores a lock older than 30 s).
    /// </summary>
    public async Task<TimeSpan?> GetReloadLockAgeAsync(CancellationToken cancellationToken)
    {
        var result = await runner.RunAsync(
            """
            t=$(cat -- "${PM2_HOME:-$HOME/.pm2}/reload.lock" 2>/dev/null) && [ -n "$t" ] || exit 0
            age=$(( $(date +%s%3N) - t ))
            [ "$age" -lt "${PM2_RELOAD_LOCK_TIMEOUT:-30000}" ] && echo "$age"
            exit 0
            """,
            cancellationToken, ListTimeout).ConfigureAwait(false);
        return long.TryParse(result.Output.Trim(), System.Globalization.CultureInfo.InvariantCulture, out var ms) ? TimeSpan.FromMilliseconds(ms) : null;
    }

    /// <summary>
    /// Ends the app's workers that PM2's daemon still runs but no longer lists (<paramref name="listed"/> are the
    /// ones it lists). Two reloads of one instance at once (a rollback after an interrupted reload), or a delete
    /// of workers in a crash loop, make PM2 lose track of a worker; in cluster mode that worker keeps getting its
    /// share of the connections, serving whatever version it loaded. Returns what was ended.
    /// </summary>
    public async Task<IReadOnlyList<string>> EndStrayWorkersAsync(IReadOnlyList<Pm2Process> listed, CancellationToken cancellationToken)
    {
        var result = await runner.RunScriptAsync(
            "end-stray-workers.js",
            [target.AppName, .. listed.Select(p => p.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture))],
            cancellationToken, ListTimeout).ConfigureAwait(false);
        return RemoteAnswer.SplitLines(result.Output).Where(l => l.Length > 0).ToList();
    }

    /// <summary>
    /// Deletes the app from PM2 and starts it again from the live folder: the last resort of a rollback when
    /// workers in a crash loop refuse even a restart (PM2 races its own restarts of them).
    /// </summary>
    public Task<CommandResult> RecreateAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        runner.RunAsync(
            """
            cd "$1" || exit 1
            "$2" delete "$4"
            if [ -f "$3" ]; then exec "$2" start "$3" --only "$4"; fi
            echo "There is no $3 in $1 to start $4 from." >&2; exit 1
            """,
            cancellationToken, timeout, [target.LivePath, target.Pm2Command, target.EcosystemFile, target.AppName]);

    /// <summary>
    /// What the ecosystem file in <paramref name="folder"/> says about the app, evaluated with node as PM2
    /// does; with <paramref name="commit"/>, the file as that commit of the folder's checkout has it. Null when
    /// the file cannot be loaded (a broken file: the reload reports it).
    /// </summary>
    public async Task<EcosystemInfo?> InspectEcosystemAsync(string folder, CancellationToken cancellationToken, string? commit = null)
    {
        var result = await runner.RunScriptAsync("inspect-ecosystem.js", [folder, target.EcosystemFile, target.AppName, .. commit is null ? Array.Empty<string>() : [commit]], cancellationToken, ListTimeout)
            .ConfigureAwait(false);
        return result.Succeeded ? RemoteAnswer.Deserialize<EcosystemInfo>(result, "inspect-ecosystem.js", ReleaseStore.JsonOptions) : null;
    }

    /// <summary>
    /// How long the PM2 log files of <paramref name="processes"/> are now, so that what
    /// the app writes from here on can be read back with <see cref="ReadLogsSinceAsync"/>. Diagnostics only: when
    /// the sizes cannot be read there are no marks, and no failure.
    /// </summary>
    internal async Task<IReadOnlyList<Pm2LogMark>> MarkLogsAsync(IReadOnlyList<Pm2Process> processes, CancellationToken cancellationToken)
    {
        var files = processes.Select(p => (Path: p.OutLogPath, IsError: false)).Concat(processes.Select(p => (Path: p.ErrorLogPath, IsError: true)))
            .Where(f => f.Path.Length > 0).DistinctBy(f => f.Path, StringComparer.Ordinal).ToList();
        if (files.Count == 0)
        {
            return [];
        }

        var result = await runner.RunAsync(
            """
            for f in "$@"; do stat -c %s -- "$f" 2>/dev/null || echo 0; done
            """,
            cancellationToken, ListTimeout, files.Select(f => f.Path).ToList()).ConfigureAwait(false);
        var sizes = RemoteAnswer.SplitLines(result.Output);
        if (sizes.Count != files.Count)
        {
            runner.Log.Verbose($"The sizes of PM2's log files could not be read ({result.Tail(3)}); a failure will not show the app's log lines.");
            return [];
        }

        return files.Select((file, i) => new Pm2LogMark(file.Path, long.TryParse(sizes[i], CultureInfo.InvariantCulture, out var size) ? size : 0, file.IsError)).ToList();
    }

    /// <summary>
    /// What the app appended to its PM2 log files since <paramref name="marks"/> were taken: the last lines of
    /// each file, bounded as a whole (<see cref="AppOutputText"/>); null when it wrote nothing or the logs cannot
    /// be read. PM2's logs hold what the app printed, never its environment (that is in pm2 jlist, never read here).
    /// </summary>
    /// <remarks>
    /// The stderr logs get most of the lines, and come last: a crash-looping worker fills its stdout log with
    /// start-up banners, and its exception is on stderr (measured: with stdout's lines last, the bound kept only
    /// banners).
    /// </remarks>
    internal async Task<string?> ReadLogsSinceAsync(IReadOnlyList<Pm2LogMark> marks, CancellationToken cancellationToken)
    {
        if (marks.Count == 0)
        {
            return null;
        }

        var outs = marks.Where(m => !m.IsError).ToList();
        var errors = marks.Where(m => m.IsError).ToList();
        var available = AppOutputText.MaxLines - marks.Count; // a header line per file
        var outLines = errors.Count == 0 ? available / outs.Count : Math.Min(OutLogLines, available / (2 * Math.Max(1, outs.Count)));
        var errorLines = errors.Count == 0 ? 0 : (available - (outLines * outs.Count)) / errors.Count;
        string[] Arguments(Pm2LogMark mark, int lines) =>
            [mark.Path, mark.Offset.ToString(CultureInfo.InvariantCulture), lines.ToString(CultureInfo.InvariantCulture),
             (AppOutputText.MaxChars * lines / AppOutputText.MaxLines).ToString(CultureInfo.InvariantCulture)];
        try
        {
            var result = await runner.RunAsync(
                """
                while [ $# -ge 4 ]; do
                  f=$1 offset=$2 lines=$3 chars=$4; shift 4
                  size=$(stat -c %s -- "$f" 2>/dev/null) || continue
                  # A log PM2 rotated or flushed since the mark is read from its start.
                  [ "$size" -lt "$offset" ] && offset=0
                  [ "$size" -gt "$offset" ] || continue
                  printf '==> %s <==\n' "$f"
                  tail -c +"$((offset + 1))" -- "$f" | tail -n "$lines" | tail -c "$chars" | sed -e '$a\'
                done
                """,
                cancellationToken, ListTimeout,
                [.. outs.SelectMany(m => Arguments(m, outLines)), .. errors.SelectMany(m => Arguments(m, errorLines))],
                sensitiveOutput: true).ConfigureAwait(false);
            return AppOutputText.Bound(result.Output);
        }
        catch (AedDeployException ex)
        {
            // The failure being reported matters more than its diagnostics.
            runner.Log.Verbose($"The app's PM2 log lines could not be read: {ex.Message}");
            return null;
        }
    }

    /// <summary>
    /// Whether a worker answered before PM2 killed the old one: true when the app sends 'ready' (wait_ready
    /// with a preload that sends it once the server answers), so PM2 does not wait the whole listen_timeout.
    /// </summary>
    public static bool SignalsReady(EcosystemInfo ecosystem) =>
        ecosystem.WaitReady && ecosystem.NodeArgs.Any(a => a.Contains("ready", StringComparison.OrdinalIgnoreCase));
}

/// <summary>What an ecosystem file defines for one app (env key names only, never values).</summary>
public sealed record EcosystemInfo(bool Found, IReadOnlyList<string> EnvKeys, bool WaitReady, int ListenTimeout, IReadOnlyList<string> NodeArgs, string Cwd);
