using System.Globalization;

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
        var runner = new RemoteRunner(session, log);
        var result = await runner.RunScriptAsync(
            "boot-test.js",
            [releasePath, target.EcosystemFile, target.AppName, probePath, ((long)timeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture), expectedStatus.ToString(CultureInfo.InvariantCulture)],
            cancellationToken, timeout + TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        if (result.Output.Length == 0)
        {
            // Node itself failed, or the script was ended: there is no answer, only its log.
            throw new AedDeployException("BootTestFailed", FailureKind.InvalidResult,
                $"The boot test of {releasePath} on {session.HostName} did not report (exit {result.ExitStatus}):\n{result.Tail()}", releasePath)
            {
                AppOutput = AppOutputText.Bound(result.Error),
            };
        }

        var report = ParseReport(result);
        if (!report.Passed)
        {
            var appOutput = AppOutputText.Bound(report.Output);
            throw new AedDeployException(
                "BootTestFailed", FailureKind.InvalidResult,
                $"The new release {releasePath} failed its boot test on a spare port of {session.HostName}: {report.Detail}. The live workers were not touched."
                + (appOutput is null ? string.Empty : $"\nIts last output:\n{appOutput}"),
                releasePath)
            {
                AppOutput = appOutput,
            };
        }

        return $"{report.Detail} on port {report.Port} in {report.Milliseconds / 1000.0:0.0} s";
    }

    /// <summary>boot-test.js's answer: { passed, status, port, ms, detail, output }.</summary>
    internal static BootReport ParseReport(CommandResult result) =>
        RemoteAnswer.Json(result, "boot-test.js", root => new BootReport(
            root.GetProperty("passed").GetBoolean(),
            root.GetProperty("detail").GetString() ?? string.Empty,
            // A release whose ecosystem file cannot be loaded fails before it gets a port.
            root.TryGetProperty("port", out var port) ? port.GetInt32() : 0,
            root.GetProperty("ms").GetInt64(),
            root.TryGetProperty("output", out var output) ? output.GetString() ?? string.Empty : string.Empty));

    internal sealed record BootReport(bool Passed, string Detail, int Port, long Milliseconds, string Output);
}
