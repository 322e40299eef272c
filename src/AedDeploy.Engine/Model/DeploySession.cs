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

    internal DeploySession(IRemoteShell shell, SessionTransport transport, string hostName, int port, string userName, HostKeyInfo? hostKey, string? serverVersion)
    {
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

    internal IRemoteShell Shell { get; }

    /// <summary>Opens an SSH session: verifies the host key, authenticates, retries only transient faults.</summary>
    public static async Task<DeploySession> OpenSshAsync(SshConnectOptions options, Action<string>? log, CancellationToken cancellationToken)
    {
        var shell = await SshRemoteShell.ConnectAsync(options, log, cancellationToken).ConfigureAwait(false);
        return new DeploySession(shell, SessionTransport.Ssh, options.HostName, options.Port, options.UserName, shell.HostKey, shell.ServerVersion);
    }

    /// <summary>A session on this machine, as the current user.</summary>
    public static DeploySession OpenLocal() =>
        new(new LocalShell(), SessionTransport.Local, "localhost", 0, Environment.UserName, null, null);

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
