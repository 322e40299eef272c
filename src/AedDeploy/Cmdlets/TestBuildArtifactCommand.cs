using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>
/// Checks that a build is complete enough for next start: BUILD_ID, server and static folders, every
/// manifest parsing, every route's file and page chunk present, the build's last file written, next installed.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "BuildArtifact")]
[OutputType(typeof(ArtifactReport), typeof(bool))]
public sealed class TestBuildArtifactCommand : AppCmdlet
{
    /// <summary>The folder whose .next is checked; by default the live folder.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("ReleasePath")]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? ReleaseId { get; set; }

    /// <summary>Returns only whether the build is complete.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    /// <summary>Writes an error (BuildIncomplete) when the build is not complete, so that a pipeline stops there.</summary>
    [Parameter]
    public SwitchParameter Strict { get; set; }

    protected override void ProcessRecord()
    {
        var report = RunPhase((target, log, token) => new ArtifactInspector(Session, target, log).InspectAsync(Path ?? target.LivePath, ReleaseId, token));
        foreach (var failure in report.Failures)
        {
            WriteVerbose($"{failure.Name}: {failure.Detail}");
        }

        if (Strict && !report.IsComplete)
        {
            var message = $"{report.ReleasePath} is not a complete build: " + string.Join("; ", report.Failures.Select(f => $"{f.Name}: {f.Detail}"));
            WriteError(ToErrorRecord(new AedDeployException("BuildIncomplete", FailureKind.InvalidResult, message, report)));
            return;
        }

        WriteObject(Quiet ? report.IsComplete : report);
    }
}
