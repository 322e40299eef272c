using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>
/// Proves the app healthy: HTTP probes answer as expected several times in a row (with bounded retries),
/// and PM2 keeps every instance online without a restart for a stabilisation window. Ends as soon as
/// health is proven. An unhealthy app is reported in the result and as an AppUnhealthy error.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "AppHealth")]
[OutputType(typeof(HealthReport), typeof(bool))]
public sealed class TestAppHealthCommand : HealthCheckingCmdlet
{
    /// <summary>Returns only whether the app is healthy.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void ProcessRecord()
    {
        var request = HealthRequest;
        var report = RunPhase((target, log, token) => new HealthService(Session, target, log).CheckAsync(request, token));
        if (Quiet)
        {
            WriteObject(report.Healthy);
            return;
        }

        WriteObject(report);
        if (!report.Healthy)
        {
            WriteError(ToErrorRecord(new AedDeployException(
                "AppUnhealthy", FailureKind.InvalidResult,
                $"{AppName} on {Session.HostName} is not healthy: {string.Join("; ", report.Problems)}", report)));
        }
    }
}
