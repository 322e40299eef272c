using System.Management.Automation;
using System.Security;
using AedDeploy.Transport;

namespace AedDeploy.Cmdlets;

/// <summary>Opens one verified connection to a deploy target, for every later cmdlet to reuse.</summary>
[Cmdlet(VerbsCommon.New, "DeploySession", DefaultParameterSetName = SshSet)]
[OutputType(typeof(DeploySession))]
public sealed class NewDeploySessionCommand : AedCmdlet
{
    private const string SshSet = "Ssh";
    private const string LocalSet = "Local";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = SshSet, ValueFromPipelineByPropertyName = true)]
    [Alias("ComputerName", "Host")]
    [ValidateNotNullOrEmpty]
    public string HostName { get; set; } = string.Empty;

    [Parameter(ParameterSetName = SshSet, ValueFromPipelineByPropertyName = true)]
    [ValidateRange(1, 65535)]
    public int Port { get; set; } = 22;

    [Parameter(ParameterSetName = SshSet, ValueFromPipelineByPropertyName = true)]
    [Alias("User")]
    [ValidateNotNullOrEmpty]
    public string? UserName { get; set; }

    [Parameter(ParameterSetName = SshSet, ValueFromPipelineByPropertyName = true)]
    [Alias("IdentityFile", "KeyFile")]
    [ValidateNotNullOrEmpty]
    public string? KeyFilePath { get; set; }

    [Parameter(ParameterSetName = SshSet)]
    public SecureString? KeyPassphrase { get; set; }

    [Parameter(ParameterSetName = SshSet)]
    [Credential]
    public PSCredential? Credential { get; set; }

    [Parameter(ParameterSetName = SshSet)]
    [ValidateNotNullOrEmpty]
    public string? KnownHostsPath { get; set; }

    [Parameter(ParameterSetName = SshSet)]
    [ValidatePattern(@"^(SHA256:)?[A-Za-z0-9+/]{43}=?$")]
    public string? HostKeyFingerprint { get; set; }

    [Parameter(ParameterSetName = SshSet)]
    public SwitchParameter AcceptNewHostKey { get; set; }

    [Parameter(ParameterSetName = SshSet)]
    [TimeSpanSeconds]
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(15);

    [Parameter(ParameterSetName = SshSet)]
    [ValidateRange(0, 20)]
    public int ConnectRetryCount { get; set; } = 3;

    [Parameter(ParameterSetName = SshSet)]
    [TimeSpanSeconds]
    public TimeSpan ConnectRetryInterval { get; set; } = TimeSpan.FromSeconds(1);

    [Parameter(Mandatory = true, ParameterSetName = LocalSet)]
    public SwitchParameter Local { get; set; }

    protected override void ProcessRecord()
    {
        if (Local)
        {
            WriteObject(DeploySession.OpenLocal());
            return;
        }

        var options = new ConnectionSettings
        {
            HostName = HostName,
            Port = Port,
            UserName = UserName,
            KeyFilePath = KeyFilePath,
            KeyPassphrase = KeyPassphrase,
            Credential = Credential,
            KnownHostsPath = KnownHostsPath,
            HostKeyFingerprint = HostKeyFingerprint,
            AcceptNewHostKey = AcceptNewHostKey,
            ConnectTimeout = ConnectTimeout,
            ConnectRetryCount = ConnectRetryCount,
            ConnectRetryInterval = ConnectRetryInterval,
        }.ToOptions(this);

        var session = RunEngine((log, token) => DeploySession.OpenSshAsync(options, log.Verbose, token), $"{HostName}:{Port}");
        WriteVerbose($"Connected to {session} ({session.ServerVersion}); host key {session.HostKeyAlgorithm} {session.HostKeyFingerprint}.");
        WriteObject(session);
    }
}
