using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>The health-check parameters shared by Test-AppHealth and the cmdlets that prove health after a change.</summary>
public abstract class HealthCheckingCmdlet : AppCmdlet
{
    /// <summary>The URLs to probe; without one, only PM2 is checked.</summary>
    [Parameter(Position = 0)]
    [Alias("Uri", "HealthUrl")]
    [ValidateNotNullOrEmpty]
    public Uri[] Url { get; set; } = [];

    [Parameter]
    [ValidateRange(100, 599)]
    public int ExpectedStatus { get; set; } = 200;

    /// <summary>A regular expression each answer's body must match.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ContentPattern { get; set; }

    /// <summary>The build id every answer must show (in an X-Build-Id header or the body); an answer showing none fails.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ExpectedBuildId { get; set; }

    [Parameter]
    [Alias("ProbeSource")]
    public ProbeSource Source { get; set; } = ProbeSource.Server;

    [Parameter]
    [ValidateRange(0, 100)]
    public int MaximumRetryCount { get; set; } = 5;

    [Parameter]
    [ValidateRange(0, 3600)]
    public double RetryIntervalSec { get; set; } = 3;

    [Parameter]
    [ValidateRange(1, 100)]
    public int RequiredSuccesses { get; set; } = 3;

    [Parameter]
    [ValidateRange(0.1, 600)]
    public double TimeoutSec { get; set; } = 5;

    /// <summary>How long PM2 must show no restart of any instance.</summary>
    [Parameter]
    [ValidateRange(0, 3600)]
    public double StabilizationSec { get; set; } = 3;

    /// <summary>Leaves out the PM2 checks, for probing alone.</summary>
    [Parameter]
    public SwitchParameter SkipPm2 { get; set; }

    /// <summary>The health check the parameters describe.</summary>
    protected HealthRequest HealthRequest => new()
    {
        Urls = Url,
        ExpectedStatus = ExpectedStatus,
        ContentPattern = ContentPattern,
        ExpectedBuildId = ExpectedBuildId,
        RequireBuildId = ExpectedBuildId is not null,
        Source = Source,
        MaximumRetryCount = MaximumRetryCount,
        RetryInterval = TimeSpan.FromSeconds(RetryIntervalSec),
        RequiredSuccesses = RequiredSuccesses,
        ProbeTimeout = TimeSpan.FromSeconds(TimeoutSec),
        StabilizationWindow = TimeSpan.FromSeconds(StabilizationSec),
        CheckPm2 = !SkipPm2,
    };
}
