using System.Management.Automation;
using System.Net;
using System.Security;
using AedDeploy.Transport;

namespace AedDeploy.Cmdlets;

/// <summary>The SSH connection values that New-DeploySession and Invoke-ZeroDowntimeDeploy take, turned into engine options.</summary>
internal sealed class ConnectionSettings
{
    public string HostName { get; set; } = string.Empty;

    public int Port { get; set; } = 22;

    public string? UserName { get; set; }

    public string? KeyFilePath { get; set; }

    public SecureString? KeyPassphrase { get; set; }

    public PSCredential? Credential { get; set; }

    public string? KnownHostsPath { get; set; }

    public string? HostKeyFingerprint { get; set; }

    public bool AcceptNewHostKey { get; set; }

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(15);

    public int ConnectRetryCount { get; set; } = 3;

    public TimeSpan ConnectRetryInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Validates the combination and resolves paths as PowerShell sees them; a bad value stops the cmdlet.</summary>
    public SshConnectOptions ToOptions(PSCmdlet cmdlet)
    {
        if (HostKeyFingerprint is not null && AcceptNewHostKey)
        {
            Fail(cmdlet, "HostKeyFingerprintWithAcceptNewHostKey", "-HostKeyFingerprint pins the key and -AcceptNewHostKey trusts a new one: use one of them.", HostName);
        }

        return new SshConnectOptions
        {
            HostName = HostName,
            Port = Port,
            UserName = UserName ?? Credential?.UserName ?? Environment.UserName,
            KeyFilePath = KeyFilePath is null ? null : cmdlet.GetUnresolvedProviderPathFromPSPath(KeyFilePath),
            KeyPassphrase = KeyPassphrase is null ? null : new NetworkCredential(string.Empty, KeyPassphrase).Password,
            Password = Credential?.GetNetworkCredential().Password,
            KnownHostsPath = KnownHostsPath is null
                ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh", "known_hosts")
                : cmdlet.GetUnresolvedProviderPathFromPSPath(KnownHostsPath),
            HostKeyFingerprint = HostKeyFingerprint,
            AcceptNewHostKey = AcceptNewHostKey,
            ConnectTimeout = ConnectTimeout,
            ConnectRetryCount = ConnectRetryCount,
            ConnectRetryInterval = ConnectRetryInterval,
        };
    }

    private static void Fail(PSCmdlet cmdlet, string errorId, string message, object target) =>
        cmdlet.ThrowTerminatingError(new ErrorRecord(new ArgumentException(message), errorId, ErrorCategory.InvalidArgument, target));
}
