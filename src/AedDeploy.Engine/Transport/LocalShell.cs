using System.Diagnostics;

namespace AedDeploy.Transport;

/// <summary>
/// Runs commands on the machine the module runs on (for example a self-hosted CI runner that is also the
/// deploy target), with the same contract as <see cref="SshRemoteShell"/>.
/// </summary>
public sealed class LocalShell : IRemoteShell
{
    private static readonly TimeSpan FeedStopTimeout = TimeSpan.FromSeconds(1);

    private bool disposed;

    public string HostName => "localhost";

    public bool IsConnected => !disposed;

    public Task<CommandResult> RunAsync(string command, TimeSpan timeout, Action<OutputLine>? onOutput, CancellationToken cancellationToken) =>
        RunCoreAsync(command, input: null, output: null, timeout, onOutput, cancellationToken);

    public Task<CommandResult> RunWithInputAsync(string command, Stream input, TimeSpan timeout, Action<OutputLine>? onOutput, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        return RunCoreAsync(command, input, output: null, timeout, onOutput, cancellationToken);
    }

    public Task<CommandResult> RunToStreamAsync(string command, Stream output, TimeSpan timeout, Action<OutputLine>? onError, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        return RunCoreAsync(command, input: null, output, timeout, onError, cancellationToken);
    }

    public void Dispose() => disposed = true;

    private async Task<CommandResult> RunCoreAsync(
        string command, Stream? input, Stream? output, TimeSpan timeout, Action<OutputLine>? onOutput, CancellationToken cancellationToken)
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

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            deadline.CancelAfter(timeout);
        }

        using var feedStop = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
        Task? feeding = null;
        if (input is null)
        {
            process.StandardInput.Close();
        }
        else
        {
            feeding = FeedAsync(process, input, command, feedStop.Token);

            // A feed still blocked when the command ended fails later, with nobody awaiting it.
            _ = feeding.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }

        var stdout = output is null
            ? LineSplitter.PumpAsync(process.StandardOutput.BaseStream, OutputStreamKind.StandardOutput, onOutput)
            : StreamCopy.FromCommandWithoutTextAsync(process.StandardOutput.BaseStream, output, HostName, command, deadline.Token);
        var stderr = LineSplitter.PumpAsync(process.StandardError.BaseStream, OutputStreamKind.StandardError, onOutput);

        var exited = process.WaitForExitAsync(CancellationToken.None);
        var stopped = Task.Delay(Timeout.Infinite, deadline.Token);
        var watched = new List<Task> { exited, stopped };
        if (feeding is not null)
        {
            watched.Add(feeding);
        }

        if (output is not null)
        {
            watched.Add(stdout);
        }

        while (true)
        {
            var first = await Task.WhenAny(watched).ConfigureAwait(false);
            if (first == exited)
            {
                break;
            }

            if (first == stopped)
            {
                process.Kill(entireProcessTree: true);
                cancellationToken.ThrowIfCancellationRequested();
                throw new AedDeployException(
                    "RemoteCommandTimeout", FailureKind.Timeout,
                    $"The command did not finish within {timeout.TotalSeconds:0.#} s and was stopped: {SshRemoteShell.Shorten(command)}",
                    HostName);
            }

            if (first.IsFaulted)
            {
                // The caller's stream failed: the command must not go on with part of its input or lose its output unseen.
                process.Kill(entireProcessTree: true);
                await first.ConfigureAwait(false);
            }

            watched.Remove(first);
        }

        if (feeding is not null && !feeding.IsCompleted)
        {
            // The command ended without reading all its input; its exit status says whether that was right. A write
            // can stay blocked where a child the command left behind holds the pipe open: it is not waited for long.
            await feedStop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAny(feeding, Task.Delay(FeedStopTimeout, CancellationToken.None)).ConfigureAwait(false);
        }

        var outputText = await stdout.ConfigureAwait(false);
        var error = await stderr.ConfigureAwait(false);
        return new CommandResult(HostName, command, process.ExitCode, outputText, error, stopwatch.Elapsed);
    }

    private async Task FeedAsync(Process process, Stream input, string command, CancellationToken cancellationToken)
    {
        var stdin = process.StandardInput.BaseStream;
        try
        {
            await StreamCopy.ToCommandAsync(input, (buffer, count, token) => stdin.WriteAsync(buffer.AsMemory(0, count), token).AsTask(), HostName, command, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (IOException)
        {
            // Only the pipe's write throws this (a read failure is already an AedDeployException): the command closed
            // its input or exited, and its exit status tells whether it had all it needed.
            return;
        }

        // The end of the input, sent only after all of it: a failure above leaves the pipe open until the command is killed.
        try
        {
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The command is gone already.
        }
    }
}
