namespace AedDeploy.Transport;

/// <summary>Which stream a line of command output came from.</summary>
public enum OutputStreamKind
{
    StandardOutput,
    StandardError,
}

/// <summary>One line of output from a running command, delivered while the command runs.</summary>
public readonly record struct OutputLine(OutputStreamKind Stream, string Text);

/// <summary>
/// Runs shell commands on one deploy target. Every phase of a deploy goes through this interface,
/// over one reused connection (SSH) or on the local machine.
/// </summary>
public interface IRemoteShell : IDisposable
{
    /// <summary>The host the commands run on, for messages and records.</summary>
    string HostName { get; }

    /// <summary>False once the connection was closed or lost; no command can run after that.</summary>
    bool IsConnected { get; }

    /// <summary>
    /// Runs <paramref name="command"/> with bash and waits for it. A non-zero exit status is returned, not thrown.
    /// Throws <see cref="AedDeployException"/> with kind Timeout when <paramref name="timeout"/> passes,
    /// <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> is cancelled (the
    /// remote process group is killed in both cases), and kind Connection when the connection is lost.
    /// </summary>
    Task<CommandResult> RunAsync(string command, TimeSpan timeout, Action<OutputLine>? onOutput, CancellationToken cancellationToken);
}
