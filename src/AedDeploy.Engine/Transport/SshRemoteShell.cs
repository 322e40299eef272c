using System.Diagnostics;
using System.Net.Sockets;
using Polly;
using Polly.Retry;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace AedDeploy.Transport;

/// <summary>
/// Runs commands over one SSH connection (SSH.NET), verified against known_hosts or a pinned fingerprint.
/// Each command runs in its own process group on the server, so a timeout or a cancellation ends the whole
/// group (the build and every process it started), not only the shell.
/// </summary>
public sealed class SshRemoteShell : IRemoteShell
{
    private static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan FeedStopTimeout = TimeSpan.FromSeconds(1);

    // Sent before a command's input and read by its shell first (bash reads a pipe a byte at a time, so it takes this
    // line and nothing more): SSH.NET sends the end of input only after at least one byte was written
    // (ChannelInputStream.Dispose), so without it an empty input would never end. A command waiting for this line
    // cannot have ended before its input stream is opened.
    private const string InputStartLine = "IFS= read -r _\n";

    private static readonly byte[] InputStartBytes = "\n"u8.ToArray();

    private readonly SshClient client;
    private readonly HashSet<string> runningMarkers = [];
    private readonly TaskCompletionSource<Exception> connectionLost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool disposed;

    private SshRemoteShell(SshClient client, string hostName, HostKeyInfo hostKey)
    {
        this.client = client;
        HostName = hostName;
        HostKey = hostKey;
        client.ErrorOccurred += (_, e) => connectionLost.TrySetResult(e.Exception);
    }

    public string HostName { get; }

    /// <summary>The host key the server presented and how it was trusted.</summary>
    public HostKeyInfo HostKey { get; }

    public string? ServerVersion => client.ConnectionInfo?.ServerVersion;

    public bool IsConnected => !disposed && !connectionLost.Task.IsCompleted && client.IsConnected;

    /// <summary>The markers of commands that were running when the connection was lost: their processes may live on.</summary>
    internal IReadOnlyList<string> OrphanedMarkers
    {
        get
        {
            lock (runningMarkers)
            {
                return runningMarkers.ToList();
            }
        }
    }

    /// <summary>
    /// Opens and verifies the connection. Refused connections and timeouts are retried (bounded, logged);
    /// authentication and host-key failures never are.
    /// </summary>
    public static async Task<SshRemoteShell> ConnectAsync(SshConnectOptions options, Action<string>? log, CancellationToken cancellationToken)
    {
        var knownKeys = KnownHosts.Find(options.KnownHostsPath, options.HostName, options.Port);
        var policy = new HostKeyPolicy(knownKeys, options.HostKeyFingerprint, options.AcceptNewHostKey);
        var authentication = CreateAuthenticationMethods(options);

        var pipeline = new ResiliencePipelineBuilder();
        if (options.ConnectRetryCount > 0)
        {
            pipeline.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<AedDeployException>(ex => ex.ErrorId is "SshConnectionRefused" or "SshConnectTimeout"),
                MaxRetryAttempts = options.ConnectRetryCount,
                Delay = options.ConnectRetryInterval,
                BackoffType = DelayBackoffType.Exponential,
                OnRetry = args =>
                {
                    log?.Invoke($"Connecting to {options.HostName}:{options.Port} failed ({args.Outcome.Exception?.Message}); attempt {args.AttemptNumber + 2} of {options.ConnectRetryCount + 1} in {args.RetryDelay.TotalSeconds:0.#} s.");
                    return default;
                },
            });
        }

        return await pipeline.Build().ExecuteAsync(
            async token => await ConnectOnceAsync(options, policy, authentication, log, token).ConfigureAwait(false),
            cancellationToken).ConfigureAwait(false);
    }

    public Task<CommandResult> RunAsync(string command, TimeSpan timeout, Action<OutputLine>? onOutput, CancellationToken cancellationToken) =>
        RunMarkedAsync(command, input: null, output: null, timeout, onOutput, cancellationToken);

    public Task<CommandResult> RunWithInputAsync(string command, Stream input, TimeSpan timeout, Action<OutputLine>? onOutput, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        return RunMarkedAsync(command, input, output: null, timeout, onOutput, cancellationToken);
    }

    public Task<CommandResult> RunToStreamAsync(string command, Stream output, TimeSpan timeout, Action<OutputLine>? onError, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        return RunMarkedAsync(command, input: null, output, timeout, onError, cancellationToken);
    }

    /// <summary>Ends, on the server, the process groups of commands started over another (lost) connection.</summary>
    internal async Task KillProcessGroupsAsync(IEnumerable<string> markers)
    {
        foreach (var marker in markers)
        {
            await KillProcessGroupAsync(marker).ConfigureAwait(false);
        }
    }

    private async Task<CommandResult> RunMarkedAsync(
        string command, Stream? input, Stream? output, TimeSpan timeout, Action<OutputLine>? onOutput, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ThrowIfDisconnected(command);
        cancellationToken.ThrowIfCancellationRequested();

        // The login shell is a session leader: exec'ing bash keeps its pid, so the command's process
        // group id is that pid, and the marker in its environment lets a second channel find it.
        var marker = Guid.NewGuid().ToString("N");
        // With an input, the command runs in a subshell and its input is then read to the end before the exit: a command
        // that exits early would otherwise close the channel while this side still sends, and data sent for a channel
        // the server has freed makes OpenSSH drop the whole connection ("packet referred to nonexistent channel"),
        // every other command on the session with it. The exit status stays the command's.
        var script = input is null ? command : InputStartLine + "(\n" + command + "\n)\ns=$?\ncat >/dev/null\nexit $s\n";
        var wrapped = $"exec env AED_COMMAND_ID={marker} bash -c {ShellQuote.Quote(script)}";
        lock (runningMarkers)
        {
            runningMarkers.Add(marker);
        }

        try
        {
            return await RunWrappedAsync(command, wrapped, marker, input, output, timeout, onOutput, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // A command whose connection was lost may still run on the server: its marker stays, to be ended later.
            if (!connectionLost.Task.IsCompleted)
            {
                lock (runningMarkers)
                {
                    runningMarkers.Remove(marker);
                }
            }
        }
    }

    private async Task<CommandResult> RunWrappedAsync(
        string command, string wrapped, string marker, Stream? input, Stream? output, TimeSpan timeout, Action<OutputLine>? onOutput, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        using var sshCommand = client.CreateCommand(wrapped);
        sshCommand.CommandTimeout = System.Threading.Timeout.InfiniteTimeSpan;

        Task execute;
        try
        {
            execute = sshCommand.ExecuteAsync(CancellationToken.None);
        }
        catch (Exception ex) when (IsConnectionFault(ex))
        {
            throw ConnectionLost(command, ex);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout != System.Threading.Timeout.InfiniteTimeSpan)
        {
            deadline.CancelAfter(timeout);
        }

        using var feedStop = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
        var feeding = input is null ? null : StartFeeding(sshCommand, input, command, feedStop.Token);
        var stdout = output is null
            ? LineSplitter.PumpAsync(sshCommand.OutputStream, OutputStreamKind.StandardOutput, onOutput)
            : StreamCopy.FromCommandWithoutTextAsync(sshCommand.OutputStream, output, HostName, command, deadline.Token);
        var stderr = LineSplitter.PumpAsync(sshCommand.ExtendedOutputStream, OutputStreamKind.StandardError, onOutput);

        var stopped = Task.Delay(System.Threading.Timeout.Infinite, deadline.Token);
        var watched = new List<Task> { execute, connectionLost.Task, stopped };
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
            if (first == execute)
            {
                break;
            }

            if (first == connectionLost.Task)
            {
                throw ConnectionLost(command, connectionLost.Task.Result);
            }

            if (first == stopped)
            {
                await StopAsync(marker, sshCommand, execute).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                throw new AedDeployException(
                    "RemoteCommandTimeout", FailureKind.Timeout,
                    $"The command on {HostName} did not finish within {timeout.TotalSeconds:0.#} s and was stopped: {Shorten(command)}",
                    HostName);
            }

            if (first.IsFaulted)
            {
                // The caller's stream failed or the command stopped reading: it must not go on with part of its input
                // or lose its output unseen. Over a lost connection nothing can be stopped, and the marker stays.
                if (first.Exception?.InnerException is not AedDeployException { Kind: FailureKind.Connection })
                {
                    await StopAsync(marker, sshCommand, execute).ConfigureAwait(false);
                }

                await first.ConfigureAwait(false);
            }

            watched.Remove(first);
        }

        try
        {
            await execute.ConfigureAwait(false);
        }
        catch (Exception ex) when (IsConnectionFault(ex))
        {
            throw ConnectionLost(command, ex);
        }

        if (feeding is not null && !feeding.IsCompleted)
        {
            // The command ended without reading all its input; its exit status says whether that was right. A feed
            // blocked on the closed channel's window stays blocked until SSH.NET gives up (the connect timeout), but
            // never reads the input again once cancelled, so it is not waited for beyond a moment.
            await feedStop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAny(feeding, Task.Delay(FeedStopTimeout, CancellationToken.None)).ConfigureAwait(false);
        }

        var outputText = await stdout.ConfigureAwait(false);
        var error = await stderr.ConfigureAwait(false);
        return new CommandResult(HostName, command, ExitStatusOf(sshCommand), outputText, error, stopwatch.Elapsed);
    }

    /// <summary>
    /// Copies <paramref name="input"/> into the command's standard input on a thread of its own (a channel write blocks
    /// while the server's window is full, which is the back-pressure), then sends the end of input.
    /// </summary>
    private Task? StartFeeding(SshCommand sshCommand, Stream input, string command, CancellationToken cancellationToken)
    {
        Stream channel;
        try
        {
            channel = sshCommand.CreateInputStream();
        }
        catch (InvalidOperationException)
        {
            // The channel is closed already: the command ended before its input began, and its exit status tells why.
            return null;
        }

        var feeding = Task.Run(
            async () =>
            {
                WriteInput(channel, InputStartBytes, InputStartBytes.Length, command);
                await StreamCopy.ToCommandAsync(
                    input,
                    (buffer, count, _) =>
                    {
                        WriteInput(channel, buffer, count, command);
                        return Task.CompletedTask;
                    },
                    HostName, command, cancellationToken).ConfigureAwait(false);

                // The end of input, sent only after all of it: a failure above leaves it unsent until the command is killed.
                channel.Dispose();
            },
            CancellationToken.None);

        // A feed still blocked when the command ended fails later, with nobody awaiting it.
        _ = feeding.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        return feeding;
    }

    private void WriteInput(Stream channel, byte[] buffer, int count, string command)
    {
        try
        {
            // A closed channel drops the data without a word (SSH.NET Channel.SendData): a command that stopped
            // early is judged by its exit status, never by a write succeeding.
            channel.Write(buffer, 0, count);
        }
        catch (SshOperationTimeoutException ex)
        {
            // SSH.NET waits for the server's window at most the connection timeout, then gives up the write.
            throw new AedDeployException(
                "RemoteInputStalled", FailureKind.Timeout,
                $"The command on {HostName} took none of its input for {client.ConnectionInfo.Timeout.TotalSeconds:0.#} s (the connect timeout) and was stopped: {Shorten(command)}. "
                + "A command fed a stream must keep reading it; raise -ConnectTimeout if it needs longer pauses.",
                HostName, ex);
        }
        catch (Exception ex) when (IsConnectionFault(ex))
        {
            throw ConnectionLost(command, ex);
        }
    }

    private async Task StopAsync(string marker, SshCommand sshCommand, Task execute)
    {
        await KillProcessGroupAsync(marker).ConfigureAwait(false);
        TryCancel(sshCommand);
        await Task.WhenAny(execute, Task.Delay(KillTimeout, CancellationToken.None)).ConfigureAwait(false);
    }

    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        try
        {
            client.Disconnect();
        }
        catch (Exception ex) when (IsConnectionFault(ex))
        {
            // Already gone: nothing left to close.
        }

        client.Dispose();
    }

    private static async Task<SshRemoteShell> ConnectOnceAsync(
        SshConnectOptions options, HostKeyPolicy policy, AuthenticationMethod[] authentication, Action<string>? log, CancellationToken cancellationToken)
    {
        var connectionInfo = new ConnectionInfo(options.HostName, options.Port, options.UserName, authentication)
        {
            Timeout = options.ConnectTimeout,
        };
        RestrictHostKeyAlgorithms(connectionInfo, policy.AllowedKeyTypes);

        var client = new SshClient(connectionInfo) { KeepAliveInterval = options.KeepAliveInterval };
        HostKeyInfo? presented = null;
        client.HostKeyReceived += (_, e) =>
        {
            var verdict = policy.Evaluate(e.HostKey);
            presented = new HostKeyInfo(SshKeys.KeyTypeOf(e.HostKey), e.HostKeyName, SshKeys.Sha256Fingerprint(e.HostKey), verdict);
            if (verdict == HostKeyVerdict.TrustedOnFirstUse)
            {
                KnownHosts.Append(options.KnownHostsPath, options.HostName, options.Port, presented.KeyType, e.HostKey);
                log?.Invoke($"Trusted the new host key of {options.HostName}:{options.Port} ({presented.KeyType} {presented.Fingerprint}) and wrote it to {options.KnownHostsPath}.");
            }

            e.CanTrust = verdict is HostKeyVerdict.Trusted or HostKeyVerdict.TrustedOnFirstUse;
        };

        try
        {
            log?.Invoke($"Connecting to {options.UserName}@{options.HostName}:{options.Port} (known hosts: {options.KnownHostsPath}).");
            await client.ConnectAsync(cancellationToken).ConfigureAwait(false);
            return new SshRemoteShell(client, options.HostName, presented!);
        }
        catch (Exception ex)
        {
            client.Dispose();
            if (ex is OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            throw TranslateConnectFailure(ex, options, presented);
        }
    }

    private static AuthenticationMethod[] CreateAuthenticationMethods(SshConnectOptions options)
    {
        var methods = new List<AuthenticationMethod>();
        if (!string.IsNullOrEmpty(options.KeyFilePath))
        {
            if (!File.Exists(options.KeyFilePath))
            {
                throw new AedDeployException(
                    "SshKeyFileNotFound", FailureKind.InvalidArgument,
                    $"The key file '{options.KeyFilePath}' does not exist. Give the path of a private key (OpenSSH or PEM format) with -KeyFilePath.",
                    options.KeyFilePath);
            }

            PrivateKeyFile keyFile;
            try
            {
                keyFile = string.IsNullOrEmpty(options.KeyPassphrase)
                    ? new PrivateKeyFile(options.KeyFilePath)
                    : new PrivateKeyFile(options.KeyFilePath, options.KeyPassphrase);
            }
            catch (SshPassPhraseNullOrEmptyException ex)
            {
                throw new AedDeployException(
                    "SshKeyPassphraseRequired", FailureKind.InvalidArgument,
                    $"The key file '{options.KeyFilePath}' is encrypted. Give its passphrase with -KeyPassphrase (a SecureString).",
                    options.KeyFilePath, ex);
            }
            catch (Exception ex) when (ex is SshException or InvalidOperationException or ArgumentException or FormatException or NotSupportedException
                                           || ex.GetType().Namespace?.StartsWith("Org.BouncyCastle", StringComparison.Ordinal) == true)
            {
                var hint = string.IsNullOrEmpty(options.KeyPassphrase)
                    ? "Is it a private key in OpenSSH or PEM format?"
                    : "Is the passphrase right, and is it a private key in OpenSSH or PEM format?";
                throw new AedDeployException(
                    "SshKeyFileInvalid", FailureKind.InvalidArgument,
                    $"The key file '{options.KeyFilePath}' could not be read: {ex.Message} {hint}",
                    options.KeyFilePath, ex);
            }

            methods.Add(new PrivateKeyAuthenticationMethod(options.UserName, keyFile));
        }

        if (options.Password is not null)
        {
            methods.Add(new PasswordAuthenticationMethod(options.UserName, options.Password));
        }

        if (methods.Count == 0)
        {
            throw new AedDeployException(
                "SshNoCredential", FailureKind.InvalidArgument,
                "No way to authenticate was given. Use -KeyFilePath (a private key) or -Credential (a password).",
                options.HostName);
        }

        return [.. methods];
    }

    private static void RestrictHostKeyAlgorithms(ConnectionInfo connectionInfo, IReadOnlySet<string>? allowedKeyTypes)
    {
        // Host certificates are not verified by this module, so their algorithms are never offered.
        foreach (var name in connectionInfo.HostKeyAlgorithms.Keys.ToList())
        {
            var isCertificate = name.Contains("-cert-", StringComparison.Ordinal);
            if (isCertificate || (allowedKeyTypes is not null && !allowedKeyTypes.Contains(SshKeys.KeyTypeOfAlgorithm(name))))
            {
                connectionInfo.HostKeyAlgorithms.Remove(name, out _);
            }
        }
    }

    private static AedDeployException TranslateConnectFailure(Exception ex, SshConnectOptions options, HostKeyInfo? presented)
    {
        var target = $"{options.HostName}:{options.Port}";
        if (presented is not null && presented.Verdict is not (HostKeyVerdict.Trusted or HostKeyVerdict.TrustedOnFirstUse))
        {
            return HostKeyRejected(options, presented, ex);
        }

        switch (ex)
        {
            case AedDeployException known:
                return known;
            case SshAuthenticationException:
                return new AedDeployException(
                    "SshAuthenticationFailed", FailureKind.Authentication,
                    $"{target} refused to log in user '{options.UserName}' ({ex.Message}). Check the user name, that the key is in the user's authorized_keys, or the password.",
                    target, ex);
            case SocketException { SocketErrorCode: SocketError.ConnectionRefused }:
                return new AedDeployException(
                    "SshConnectionRefused", FailureKind.Connection,
                    $"{target} refused the connection. Is sshd running and listening on port {options.Port}?",
                    target, ex);
            case SocketException { SocketErrorCode: SocketError.TimedOut } or SshOperationTimeoutException or TimeoutException:
                return new AedDeployException(
                    "SshConnectTimeout", FailureKind.Timeout,
                    $"{target} did not answer within {options.ConnectTimeout.TotalSeconds:0.#} s. Check the host name, the port and any firewall, or raise -ConnectTimeout.",
                    target, ex);
            case SocketException socket:
                return new AedDeployException(
                    "SshConnectionFailed", FailureKind.Connection,
                    $"Could not connect to {target}: {socket.Message} ({socket.SocketErrorCode}).",
                    target, ex);
            default:
                return new AedDeployException(
                    "SshConnectionFailed", FailureKind.Connection,
                    $"Could not open an SSH session with {target}: {ex.Message}",
                    target, ex);
        }
    }

    private static AedDeployException HostKeyRejected(SshConnectOptions options, HostKeyInfo key, Exception inner)
    {
        var target = $"{options.HostName}:{options.Port}";
        var entry = KnownHosts.HostEntryName(options.HostName, options.Port);
        return key.Verdict switch
        {
            HostKeyVerdict.Unknown => new AedDeployException(
                "SshHostKeyUnknown", FailureKind.Security,
                $"The host key of {target} is not known: {key.KeyType} {key.Fingerprint}. Nothing was sent. If that fingerprint is right "
                + $"(check it on the server with 'ssh-keygen -lf /etc/ssh/ssh_host_{key.KeyType.Replace("ssh-", string.Empty, StringComparison.Ordinal)}_key.pub'), "
                + $"connect once with -AcceptNewHostKey to record it in {options.KnownHostsPath}, or pin it with -HostKeyFingerprint '{key.Fingerprint}'.",
                target, inner),
            HostKeyVerdict.FingerprintMismatch => new AedDeployException(
                "SshHostKeyFingerprintMismatch", FailureKind.Security,
                $"The host key of {target} is {key.KeyType} {key.Fingerprint}, not the pinned {SshKeys.NormalizeFingerprint(options.HostKeyFingerprint!)}. "
                + "The connection was closed. Someone may be intercepting it, or the server's key was replaced: confirm the new key with the server's owner.",
                target, inner),
            HostKeyVerdict.Revoked => new AedDeployException(
                "SshHostKeyRevoked", FailureKind.Security,
                $"The host key of {target} ({key.KeyType} {key.Fingerprint}) is marked @revoked in {options.KnownHostsPath}. The connection was closed.",
                target, inner),
            _ => new AedDeployException(
                "SshHostKeyMismatch", FailureKind.Security,
                $"WARNING: the host key of {target} has changed: it is now {key.KeyType} {key.Fingerprint}, which does not match the entry for '{entry}' in {options.KnownHostsPath}. "
                + "The connection was closed. Someone may be intercepting it, or the server was reinstalled. If the change is expected, remove the old entry "
                + $"(ssh-keygen -R '{entry}' -f '{options.KnownHostsPath}') and connect again with -AcceptNewHostKey.",
                target, inner),
        };
    }

    private async Task KillProcessGroupAsync(string marker)
    {
        // Finds the session leader that carries the marker and ends its whole process group:
        // TERM first, KILL for whatever is left a moment later.
        var script =
            "for e in /proc/[0-9]*/environ; do p=${e#/proc/}; p=${p%/environ}; "
            + $"if tr '\\0' '\\n' < \"$e\" 2>/dev/null | grep -qx {ShellQuote.Quote("AED_COMMAND_ID=" + marker)}; then "
            + "g=$(ps -o pgid= -p \"$p\" 2>/dev/null | tr -d ' '); [ \"$g\" = \"$p\" ] && kill -TERM -- \"-$g\" 2>/dev/null && "
            + "( sleep 2; kill -KILL -- \"-$g\" 2>/dev/null ) >/dev/null 2>&1 & fi; done; exit 0";
        try
        {
            using var kill = client.CreateCommand(script);
            kill.CommandTimeout = KillTimeout;
            await kill.ExecuteAsync(CancellationToken.None).WaitAsync(KillTimeout).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsConnectionFault(ex) || ex is TimeoutException)
        {
            // The connection is gone or the server is stuck; nothing more can be done from here.
        }
    }

    private static void TryCancel(SshCommand command)
    {
        try
        {
            command.CancelAsync(forceKill: true, millisecondsTimeout: 1000);
        }
        catch (Exception ex) when (IsConnectionFault(ex) || ex is InvalidOperationException)
        {
            // Already finished or the connection is gone.
        }
    }

    private void ThrowIfDisconnected(string command)
    {
        if (connectionLost.Task.IsCompleted)
        {
            throw ConnectionLost(command, connectionLost.Task.Result);
        }

        if (!client.IsConnected)
        {
            throw ConnectionLost(command, null);
        }
    }

    private AedDeployException ConnectionLost(string command, Exception? inner) =>
        new(
            "SshConnectionLost", FailureKind.Connection,
            $"The SSH connection to {HostName} was lost{(inner is null ? string.Empty : $" ({inner.Message})")} while running: {Shorten(command)}. "
            + "The session is disconnected; open a new one with New-DeploySession.",
            HostName, inner);

    private static int ExitStatusOf(SshCommand command)
    {
        if (command.ExitStatus is int status)
        {
            return status;
        }

        return command.ExitSignal switch
        {
            "HUP" => 129,
            "INT" => 130,
            "QUIT" => 131,
            "KILL" => 137,
            "SEGV" => 139,
            "PIPE" => 141,
            "TERM" => 143,
            _ => 255,
        };
    }

    private static bool IsConnectionFault(Exception ex) =>
        ex is SshConnectionException or SocketException or ObjectDisposedException or IOException
        || (ex is SshException && ex is not SshAuthenticationException);

    internal static string Shorten(string command)
    {
        var firstLine = command.Split('\n')[0];
        return firstLine.Length > 120 ? firstLine[..117] + "..." : firstLine + (command.Contains('\n') ? " ..." : string.Empty);
    }
}

/// <summary>The host key a server presented and the verdict on it.</summary>
public sealed record HostKeyInfo(string KeyType, string Algorithm, string Fingerprint, HostKeyVerdict Verdict);
