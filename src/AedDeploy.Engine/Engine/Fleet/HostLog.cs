namespace AedDeploy.Engine.Fleet;

/// <summary>
/// One fleet host's view of the deploy's log: every message names the host, and its progress is a child of the
/// fleet's, so that hosts working at the same time can be told apart.
/// </summary>
internal sealed class HostLog(IDeployLog inner, string hostName, string parentActivity) : IDeployLog
{
    private readonly string prefix = $"[{hostName}] ";

    public void Verbose(string message) => inner.Verbose(Prefixed(message));

    public void Information(string message, string tag) => inner.Information(Prefixed(message), tag);

    public void Warning(string message) => inner.Warning(Prefixed(message));

    public void Progress(string activity, string status, int percent) => inner.Progress($"{hostName}: {activity}", status, percent, parentActivity);

    public void Progress(string activity, string status, int percent, string? parent) => inner.Progress($"{hostName}: {activity}", status, percent, parentActivity);

    // RemoteRunner already names the host on the command lines it logs.
    private string Prefixed(string message) => message.StartsWith(prefix, StringComparison.Ordinal) ? message : prefix + message;
}
