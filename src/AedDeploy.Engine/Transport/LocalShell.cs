using System.Diagnostics;

namespace AedDeploy.Transport;

/// <summary>
/// Runs commands on the machine the module runs on (for example a self-hosted CI runner that is also the
/// deploy target), with the same contract as <see cref="SshRemoteShell"/>.
/// </summary>
public sealed class LocalShell : IRemoteShell
{
    private bool disposed;

    public string HostName => "localhost";

    public bool IsConnected => !disposed;

    public async Task<CommandResult> RunAsync(string command, TimeSpan timeout, Action<OutputLine>? onOutput, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        var startInfo = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add("-c");
        startInfo.ArgumentList.Add(command);

        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(startInfo)
            ?? throw new AedDeployException("LocalShellStartFailed", FailureKind.InvalidOperation, "Could not start bash on this machine.", HostName);
        process.StandardInput.Close();
        var stdout = LineSplitter.PumpAsync(process.StandardOutput.BaseStream, OutputStreamKind.StandardOutput, onOutput);
        var stderr = LineSplitter.PumpAsync(process.StandardError.BaseStream, OutputStreamKind.StandardError, onOutput);

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            deadline.CancelAfter(timeout);
        }

        try
        {
            await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            cancellationToken.ThrowIfCancellationRequested();
            throw new AedDeployException(
                "RemoteCommandTimeout", FailureKind.Timeout,
                $"The command did not finish within {timeout.TotalSeconds:0.#} s and was stopped: {SshRemoteShell.Shorten(command)}",
                HostName);
        }

        var output = await stdout.ConfigureAwait(false);
        var error = await stderr.ConfigureAwait(false);
        return new CommandResult(HostName, command, process.ExitCode, output, error, stopwatch.Elapsed);
    }

    public void Dispose() => disposed = true;
}
