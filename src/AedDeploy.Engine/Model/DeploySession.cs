using AedDeploy.Transport;

namespace AedDeploy;

/// <summary>How a session reaches its target.</summary>
public enum SessionTransport
{
    Ssh,
    Local,
}

/// <summary>The state of a session's connection.</summary>
public enum SessionState
{
    Open,
    Disconnected,
    Closed,
}

/// <summary>
/// One open connection to a deploy target, reused by every phase. Made by New-DeploySession, taken by
/// every other cmdlet through -Session, closed by Remove-DeploySession.
/// </summary>
public sealed class DeploySession : IDisposable
{
    private bool closed;

    internal DeploySession(IRemoteShell shell, SessionTransport transport, string hostName, int port, string userName, HostKeyInfo? hostKey, string? serverVersion,
        SshConnectOptions? connectOptions = null)
    {
        ConnectOptions = connectOptions;
        Shell = shell;
        Transport = transport;
        HostName = hostName;
        Port = port;
        UserName = userName;
        HostKeyAlgorithm = hostKey?.KeyType;
        HostKeyFingerprint = hostKey?.Fingerprint;
        ServerVersion = serverVersion;
        OpenedAt = DateTimeOffset.Now;
    }

    public Guid Id { get; } = Guid.NewGuid();

    public string HostName { get; }

    public int Port { get; }

    public string UserName { get; }

    public SessionTransport Transport { get; }

    public string? HostKeyAlgorithm { get; }

    public string? HostKeyFingerprint { get; }

    public string? ServerVersion { get; }

    public DateTimeOffset OpenedAt { get; }

    public SessionState State => closed ? SessionState.Closed : Shell.IsConnected ? SessionState.Open : SessionState.Disconnected;

    internal IRemoteShell Shell { get; private set; }

    /// <summary>How the session was opened, to open it again after a dropped connection (null for a local session).</summary>
    private SshConnectOptions? ConnectOptions { get; }

    /// <summary>Opens an SSH session: verifies the host key, authenticates, retries only transient faults.</summary>
    public static async Task<DeploySession> OpenSshAsync(SshConnectOptions options, Action<string>? log, CancellationToken cancellationToken)
    {
        var shell = await SshRemoteShell.ConnectAsync(options, log, cancellationToken).ConfigureAwait(false);
        return new DeploySession(shell, SessionTransport.Ssh, options.HostName, options.Port, options.UserName, shell.HostKey, shell.ServerVersion, options);
    }

    /// <summary>A session on this machine, as the current user.</summary>
    public static DeploySession OpenLocal() =>
        new(new LocalShell(), SessionTransport.Local, "localhost", 0, Environment.UserName, null, null);

    /// <summary>
    /// Opens the connection again after it dropped, verifying the host key as the first time (a key trusted
    /// on first use is in known_hosts now, so nothing is trusted anew), and ends on the server whatever the
    /// lost connection left running, so that it cannot go on changing files behind a rollback.
    /// </summary>
    internal async Task ReconnectAsync(Engine.IDeployLog log, CancellationToken cancellationToken)
    {
        if (closed || ConnectOptions is null || Shell is not SshRemoteShell lost)
        {
            throw new AedDeployException("SessionCannotReconnect", FailureKind.InvalidOperation,
                $"The session to {HostName} is {State.ToString().ToLowerInvariant()} and cannot be opened again.", this);
        }

        var options = new SshConnectOptions
        {
            HostName = ConnectOptions.HostName,
            Port = ConnectOptions.Port,
            UserName = ConnectOptions.UserName,
            KeyFilePath = ConnectOptions.KeyFilePath,
            KeyPassphrase = ConnectOptions.KeyPassphrase,
            Password = ConnectOptions.Password,
            KnownHostsPath = ConnectOptions.KnownHostsPath,
            HostKeyFingerprint = ConnectOptions.HostKeyFingerprint,
            AcceptNewHostKey = false,
            ConnectTimeout = ConnectOptions.ConnectTimeout,
            ConnectRetryCount = Math.Max(ConnectOptions.ConnectRetryCount, 3),
            ConnectRetryInterval = ConnectOptions.ConnectRetryInterval,
            KeepAliveInterval = ConnectOptions.KeepAliveInterval,
        };
        var fresh = await SshRemoteShell.ConnectAsync(options, log.Verbose, cancellationToken).ConfigureAwait(false);
        await fresh.KillProcessGroupsAsync(lost.OrphanedMarkers).ConfigureAwait(false);
        lost.Dispose();
        Shell = fresh;
        log.Verbose($"Connected to {this} again.");
    }

    /// <summary>Throws a clear error when the session can no longer run commands.</summary>
    public void EnsureOpen()
    {
        if (State != SessionState.Open)
        {
            throw new AedDeployException(
                "SessionNotOpen", FailureKind.InvalidOperation,
                $"The session to {HostName} is {State.ToString().ToLowerInvariant()}. Open a new one with New-DeploySession.",
                this);
        }
    }

    public void Dispose()
    {
        closed = true;
        Shell.Dispose();
    }

    public override string ToString() => Transport == SessionTransport.Local ? "local" : $"{UserName}@{HostName}:{Port}";
}
