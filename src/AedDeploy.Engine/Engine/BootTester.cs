using System.Globalization;
using System.Text.Json;

namespace AedDeploy.Engine;

/// <summary>
/// Starts a new release on a spare loopback port with the app's environment and probes it, before the live
/// workers are touched: a release that crashes at boot or answers errors never reaches them.
/// </summary>
public sealed class BootTester(DeploySession session, AppTarget target, IDeployLog log)
{
    /// <summary>Boots the release and returns what it answered; throws <c>BootTestFailed</c> when it did not answer as expected.</summary>
    public async Task<string> RequireBootAsync(string releasePath, string probePath, int expectedStatus, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var runner = new RemoteRunner(session.Shell, log);
        var result = await runner.RunScriptAsync(
            "boot-test.js",
            [releasePath, target.EcosystemFile, target.AppName, probePath, ((long)timeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture), expectedStatus.ToString(CultureInfo.InvariantCulture)],
            cancellationToken, timeout + TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        var json = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith('{'));
        if (json is null)
        {
            throw new AedDeployException("BootTestFailed", FailureKind.InvalidResult,
                $"The boot test of {releasePath} on {session.HostName} did not report (exit {result.ExitStatus}):\n{result.Tail()}", releasePath);
        }

        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        var detail = root.GetProperty("detail").GetString() ?? string.Empty;
        if (!root.GetProperty("passed").GetBoolean())
        {
            throw new AedDeployException(
                "BootTestFailed", FailureKind.InvalidResult,
                $"The new release {releasePath} failed its boot test on a spare port of {session.HostName}: {detail}. The live workers were not touched.\n"
                + root.GetProperty("output").GetString(),
                releasePath);
        }

        return $"{detail} on port {root.GetProperty("port").GetInt32()} in {root.GetProperty("ms").GetInt32() / 1000.0:0.0} s";
    }
}
