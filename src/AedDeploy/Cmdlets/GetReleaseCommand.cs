using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>Lists the releases of a Release-layout app: which is live, which is the rollback target, their builds.</summary>
[Cmdlet(VerbsCommon.Get, "Release")]
[OutputType(typeof(ReleaseInfo))]
public sealed class GetReleaseCommand : AppCmdlet
{
    /// <summary>Only the live release.</summary>
    [Parameter]
    public SwitchParameter Live { get; set; }

    protected override void ProcessRecord()
    {
        RequireLayout(DeployLayout.Release, "an InPlace checkout has one build and its .next.backup.");
        var releases = RunPhase((target, log, token) => new TargetInspector(Session, target, log).ListReleasesAsync(token));
        foreach (var release in releases.Where(r => !Live || r.IsLive))
        {
            WriteObject(release);
        }
    }
}
