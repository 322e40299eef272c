namespace AedDeploy.Transport;

/// <summary>Everything needed to open a verified SSH connection to a deploy target.</summary>
public sealed class SshConnectOptions
{
    public required string HostName { get; init; }

    public int Port { get; init; } = 22;

    public required string UserName { get; init; }

    /// <summary>A private key file (OpenSSH or PEM format).</summary>
    public string? KeyFilePath { get; init; }

    public string? KeyPassphrase { get; init; }

    /// <summary>Password authentication, tried after the key when both are given.</summary>
    public string? Password { get; init; }

    public required string KnownHostsPath { get; init; }

    /// <summary>A pinned SHA256 fingerprint: when set, it alone decides trust.</summary>
    public string? HostKeyFingerprint { get; init; }

    /// <summary>Trust on first use: trust and record the key of a host known_hosts has no entry for.</summary>
    public bool AcceptNewHostKey { get; init; }

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How often a refused or timed-out connection is tried again (never for authentication or host-key failures).</summary>
    public int ConnectRetryCount { get; init; } = 3;

    public TimeSpan ConnectRetryInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often an idle connection is checked, so that a dropped connection is noticed.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(10);
}
