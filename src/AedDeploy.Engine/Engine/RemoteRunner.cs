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
    /// $1, $2, … (quoted), so that values never become command text.
    /// </summary>
    public Task<CommandResult> RunAsync(string script, CancellationToken cancellationToken, TimeSpan? timeout = null, IReadOnlyList<string>? arguments = null)
    {
        var command = arguments is { Count: > 0 } ? $"set -- {ShellQuote.Join(arguments)}\n{script}" : script;
        log.Verbose($"[{shell.HostName}] $ {script}");
        return shell.RunAsync(command, timeout ?? DefaultTimeout, WriteLine, cancellationToken);
    }

    /// <summary>Runs a command that must succeed; a non-zero exit throws with <paramref name="errorId"/> and the output's tail.</summary>
    public async Task<CommandResult> RunCheckedAsync(string script, string errorId, string what, CancellationToken cancellationToken, TimeSpan? timeout = null, FailureKind kind = FailureKind.InvalidOperation)
    {
        var result = await RunAsync(script, cancellationToken, timeout).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new AedDeployException(
                errorId, kind,
                $"{what} failed on {shell.HostName} (exit {result.ExitStatus}):\n{result.Tail()}",
                shell.HostName);
        }

        return result;
    }

    private void WriteLine(OutputLine line)
    {
        log.Verbose($"[{shell.HostName}] {(line.Stream == OutputStreamKind.StandardError ? "! " : "  ")}{line.Text}");
        log.Information(line.Text, line.Stream == OutputStreamKind.StandardError ? ErrorTag : OutputTag);
    }
}
