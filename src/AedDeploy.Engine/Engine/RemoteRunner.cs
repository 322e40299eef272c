using AedDeploy.Transport;

namespace AedDeploy.Engine;

/// <summary>
/// Runs commands for the engine on one shell: logs each command to Verbose, streams its output lines as
/// they arrive, and turns a failed command into an error with a stable id and the output's tail.
/// </summary>
public sealed class RemoteRunner(IRemoteShell shell, IDeployLog log)
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(10);

    public const string OutputTag = "AedDeploy.Output";

    public const string ErrorTag = "AedDeploy.Error";

    public IRemoteShell Shell => shell;

    public IDeployLog Log => log;

    /// <summary>
    /// Runs <paramref name="script"/>; when <paramref name="arguments"/> are given they are passed to it as
    /// $1, $2, … (quoted), so that values never become command text. Output that may hold secrets
    /// (<paramref name="sensitiveOutput"/>, such as <c>pm2 jlist</c> with the app's environment) is not streamed.
    /// </summary>
    public async Task<CommandResult> RunAsync(
        string script, CancellationToken cancellationToken, TimeSpan? timeout = null, IReadOnlyList<string>? arguments = null, bool sensitiveOutput = false)
    {
        var command = arguments is { Count: > 0 } ? $"set -- {ShellQuote.Join(arguments)}\n{script}" : script;
        log.Verbose($"[{shell.HostName}] $ {Describe(script, arguments)}");
        var result = await shell.RunAsync(command, timeout ?? DefaultTimeout, sensitiveOutput ? null : WriteLine, cancellationToken).ConfigureAwait(false);
        return new CommandResult(result.HostName, script, result.ExitStatus, result.Output, result.Error, result.Duration);
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
                $"{what} failed on {shell.HostName} (exit {result.ExitStatus}):\n{result.Tail()}",
                shell.HostName);
        }

        return result;
    }

    /// <summary>Runs one of the embedded scripts (Engine/Scripts) with <paramref name="arguments"/>.</summary>
    public async Task<CommandResult> RunScriptAsync(string name, IReadOnlyList<string> arguments, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var described = $"{name} {ShellQuote.Join(arguments)}";
        log.Verbose($"[{shell.HostName}] $ {described}");
        var command = $"set -- {ShellQuote.Join(arguments)}\n{RemoteScripts.Command(name)}";
        var result = await shell.RunAsync(command, timeout ?? DefaultTimeout, WriteLine, cancellationToken).ConfigureAwait(false);
        return new CommandResult(result.HostName, described, result.ExitStatus, result.Output, result.Error, result.Duration);
    }

    // Scripts are logged with their arguments, so that Verbose shows what really ran.
    private static string Describe(string script, IReadOnlyList<string>? arguments) =>
        arguments is { Count: > 0 } ? $"{script.Trim()}  # with {ShellQuote.Join(arguments)}" : script.Trim();

    private void WriteLine(OutputLine line)
    {
        log.Verbose($"[{shell.HostName}] {(line.Stream == OutputStreamKind.StandardError ? "! " : "  ")}{line.Text}");
        log.Information(line.Text, line.Stream == OutputStreamKind.StandardError ? ErrorTag : OutputTag);
    }
}
