using AedDeploy.Transport;

namespace AedDeploy.Engine;

/// <summary>
/// Runs commands for the engine on one shell: logs each command to Verbose, streams its output lines as
/// they arrive, and turns a failed command into an error with a stable id and the output's tail.
/// </summary>
public sealed class RemoteRunner
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(10);

    private readonly Func<IRemoteShell> currentShell;
    private readonly IDeployLog log;

    /// <summary>
    /// A runner for a session: every command goes to the session's shell of the moment, so a runner made before
    /// a reconnect (which replaces the shell) runs on the new connection, never on the dead one.
    /// </summary>
    public RemoteRunner(DeploySession session, IDeployLog log)
        : this(() => session.Shell, log)
    {
    }

    /// <summary>A runner for one shell (a local shell, tests): it lives and dies with that shell.</summary>
    public RemoteRunner(IRemoteShell shell, IDeployLog log)
        : this(() => shell, log)
    {
    }

    private RemoteRunner(Func<IRemoteShell> shell, IDeployLog log)
    {
        currentShell = shell;
        this.log = log;
    }

    public const string OutputTag = "AedDeploy.Output";

    public const string ErrorTag = "AedDeploy.Error";

    public IRemoteShell Shell => currentShell();

    public IDeployLog Log => log;

    /// <summary>
    /// Runs <paramref name="script"/>; when <paramref name="arguments"/> are given they are passed to it as
    /// $1, $2, … (quoted), so that values never become command text. Output that may hold secrets
    /// (<paramref name="sensitiveOutput"/>, such as <c>pm2 jlist</c> with the app's environment) is not streamed.
    /// </summary>
    public async Task<CommandResult> RunAsync(
        string script, CancellationToken cancellationToken, TimeSpan? timeout = null, IReadOnlyList<string>? arguments = null, bool sensitiveOutput = false)
    {
        var command = WithArguments(script, arguments);
        log.Verbose($"[{Shell.HostName}] $ {Describe(script, arguments)}");
        var result = await Shell.RunAsync(command, timeout ?? DefaultTimeout, sensitiveOutput ? null : WriteLine, cancellationToken).ConfigureAwait(false);
        return Labelled(result, script);
    }

    /// <summary>
    /// Runs <paramref name="script"/> (with <paramref name="arguments"/> as $1, $2, …) with <paramref name="input"/> as its
    /// standard input, the end of input sent when the stream ends; its output lines are logged as <see cref="RunAsync"/> logs them.
    /// </summary>
    public async Task<CommandResult> RunWithInputAsync(
        string script, Stream input, CancellationToken cancellationToken, TimeSpan? timeout = null, IReadOnlyList<string>? arguments = null)
    {
        var command = WithArguments(script, arguments);
        log.Verbose($"[{Shell.HostName}] $ {Describe(script, arguments)}  # stdin from a stream");
        var result = await Shell.RunWithInputAsync(command, input, timeout ?? DefaultTimeout, WriteLine, cancellationToken).ConfigureAwait(false);
        return Labelled(result, script);
    }

    /// <summary>
    /// Runs <paramref name="script"/> (with <paramref name="arguments"/> as $1, $2, …) and copies its standard output as
    /// bytes into <paramref name="output"/>; its standard error lines are logged. Only the exit status proves the bytes complete.
    /// </summary>
    public async Task<CommandResult> RunToStreamAsync(
        string script, Stream output, CancellationToken cancellationToken, TimeSpan? timeout = null, IReadOnlyList<string>? arguments = null)
    {
        var command = WithArguments(script, arguments);
        log.Verbose($"[{Shell.HostName}] $ {Describe(script, arguments)}  # stdout to a stream");
        var result = await Shell.RunToStreamAsync(command, output, timeout ?? DefaultTimeout, WriteLine, cancellationToken).ConfigureAwait(false);
        return Labelled(result, script);
    }

    /// <summary>Runs a command that must succeed; a non-zero exit throws with <paramref name="errorId"/> and the output's tail.</summary>
    public async Task<CommandResult> RunCheckedAsync(
        string script, string errorId, string what, CancellationToken cancellationToken,
        TimeSpan? timeout = null, IReadOnlyList<string>? arguments = null, FailureKind kind = FailureKind.InvalidOperation)
    {
        var result = await RunAsync(script, cancellationToken, timeout, arguments).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new AedDeployException(
                errorId, kind,
                $"{what} failed on {Shell.HostName} (exit {result.ExitStatus}):\n{result.Tail()}",
                Shell.HostName);
        }

        return result;
    }

    /// <summary>Runs one of the embedded scripts (Engine/Scripts) with <paramref name="arguments"/>.</summary>
    /// <param name="niceness">
    /// Above 0: the script and everything it starts run at that CPU niceness and at the lowest best-effort I/O
    /// priority, so that a build on the server leaves the live workers their share of the cores.
    /// </param>
    public async Task<CommandResult> RunScriptAsync(string name, IReadOnlyList<string> arguments, CancellationToken cancellationToken, TimeSpan? timeout = null, int niceness = 0)
    {
        var described = $"{name} {ShellQuote.Join(arguments)}{(niceness > 0 ? $"  # at niceness {niceness}" : string.Empty)}";
        log.Verbose($"[{Shell.HostName}] $ {described}");
        // renice and ionice change this shell, whose children inherit it; where either is missing the script runs as it is.
        // Linux with autogroups (sched_autogroup_enabled, the default on Debian) shares the CPU between sessions first
        // and applies a process's niceness only within its session: every SSH command is a session of its own, and
        // PM2's workers are another, so a reniced build still took half the cores from them (measured: live p99 23
        // times idle). The session's autogroup is therefore reniced too, only where this shell leads its own session,
        // so that no other session (a local shell's caller) is ever touched. An unprivileged user may renice an
        // autogroup once per 100 ms on the whole machine (EAGAIN otherwise), hence the few tries.
        var nice = niceness.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var priority = niceness > 0
            ? $"renice -n {nice} -p $$ >/dev/null 2>&1; ionice -c 2 -n 7 -p $$ >/dev/null 2>&1\n"
              + $"[ \"$(cut -d' ' -f6 /proc/$$/stat 2>/dev/null)\" = \"$$\" ] && [ -w /proc/$$/autogroup ] && for _ in 1 2 3 4 5; do echo {nice} 2>/dev/null > /proc/$$/autogroup && break; sleep 0.1; done\n"
            : string.Empty;
        var command = WithArguments(priority + RemoteScripts.Command(name), arguments);
        var result = await Shell.RunAsync(command, timeout ?? DefaultTimeout, WriteLine, cancellationToken).ConfigureAwait(false);
        return Labelled(result, described);
    }

    // The values reach the script as $1, $2, … (quoted): they never become command text.
    private static string WithArguments(string script, IReadOnlyList<string>? arguments) =>
        arguments is { Count: > 0 } ? $"set -- {ShellQuote.Join(arguments)}\n{script}" : script;

    // A result names the command as it was asked for (the script, or the embedded script and its arguments), not the text sent.
    private static CommandResult Labelled(CommandResult result, string command) =>
        new(result.HostName, command, result.ExitStatus, result.Output, result.Error, result.Duration);

    // Scripts are logged with their arguments, so that Verbose shows what really ran.
    private static string Describe(string script, IReadOnlyList<string>? arguments) =>
        arguments is { Count: > 0 } ? $"{script.Trim()}  # with {ShellQuote.Join(arguments)}" : script.Trim();

    private void WriteLine(OutputLine line)
    {
        log.Verbose($"[{Shell.HostName}] {(line.Stream == OutputStreamKind.StandardError ? "! " : "  ")}{line.Text}");
        log.Information(line.Text, line.Stream == OutputStreamKind.StandardError ? ErrorTag : OutputTag);
    }
}
