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

    /// <summary>
    /// Runs <paramref name="command"/> like <see cref="RunAsync"/>, with <paramref name="input"/> copied to its standard
    /// input and the end of input sent when <paramref name="input"/> ends (an empty stream too). Its output lines go to
    /// <paramref name="onOutput"/> as with <see cref="RunAsync"/>. A command may exit before it read all its input: its
    /// exit status is returned, the rest of the input is not read. Reading <paramref name="input"/> failing is
    /// <c>CommandInputReadFailed</c>, and the remote process group is killed before the command could see an end of input.
    /// </summary>
    Task<CommandResult> RunWithInputAsync(string command, Stream input, TimeSpan timeout, Action<OutputLine>? onOutput, CancellationToken cancellationToken);

    /// <summary>
    /// Runs <paramref name="command"/> like <see cref="RunAsync"/> and copies its standard output, as bytes, into
    /// <paramref name="output"/> (the result's <see cref="CommandResult.Output"/> is empty); its standard error lines go to
    /// <paramref name="onError"/>. Writing <paramref name="output"/> failing is <c>CommandOutputWriteFailed</c>, and the
    /// remote process group is killed. The exit status is the caller's proof that the bytes are complete.
    /// </summary>
    Task<CommandResult> RunToStreamAsync(string command, Stream output, TimeSpan timeout, Action<OutputLine>? onError, CancellationToken cancellationToken);
}
