namespace AedDeploy.Transport;

/// <summary>
/// Copies bytes between a caller's stream and a running command, for both shells. A failure on the caller's side
/// (its input could not be read, its output could not be written) becomes an error with an id here; a failure on the
/// command's side is left to the shell, which knows what it means (a lost connection, a command that stopped reading).
/// </summary>
internal static class StreamCopy
{
    public const int BufferSize = 81920;

    /// <summary>Reads <paramref name="input"/> to its end and hands each chunk to <paramref name="write"/>.</summary>
    public static async Task ToCommandAsync(
        Stream input, Func<byte[], int, CancellationToken, Task> write, string hostName, string command, CancellationToken cancellationToken)
    {
        var buffer = new byte[BufferSize];
        while (true)
        {
            int read;
            try
            {
                read = await input.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new AedDeployException(
                    "CommandInputReadFailed", FailureKind.InvalidOperation,
                    $"Reading the input for the command on {hostName} failed ({ex.Message}); the command was stopped before it saw the end of its input: {SshRemoteShell.Shorten(command)}",
                    hostName, ex);
            }

            if (read == 0)
            {
                return;
            }

            await write(buffer, read, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// <see cref="FromCommandAsync"/> in the place of a shell's stdout line pump: a command whose output went into a
    /// stream has no text output.
    /// </summary>
    public static async Task<string> FromCommandWithoutTextAsync(Stream source, Stream output, string hostName, string command, CancellationToken cancellationToken)
    {
        await FromCommandAsync(source, output, hostName, command, cancellationToken).ConfigureAwait(false);
        return string.Empty;
    }

    /// <summary>Copies the command's standard output, <paramref name="source"/>, to its end into <paramref name="output"/>.</summary>
    public static async Task FromCommandAsync(Stream source, Stream output, string hostName, string command, CancellationToken cancellationToken)
    {
        var buffer = new byte[BufferSize];
        int read;
        while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            try
            {
                await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new AedDeployException(
                    "CommandOutputWriteFailed", FailureKind.InvalidOperation,
                    $"Writing the output of the command on {hostName} failed ({ex.Message}); the command was stopped and its output is incomplete: {SshRemoteShell.Shorten(command)}",
                    hostName, ex);
            }
        }

        try
        {
            await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new AedDeployException(
                "CommandOutputWriteFailed", FailureKind.InvalidOperation,
                $"Writing the output of the command on {hostName} failed ({ex.Message}); its output is incomplete: {SshRemoteShell.Shorten(command)}",
                hostName, ex);
        }
    }
}
