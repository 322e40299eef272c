using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>Points current at a release in one atomic rename (Release layout). PM2 serves it after the next reload.</summary>
[Cmdlet(VerbsCommon.Switch, "Release", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(ReleaseInfo))]
public sealed class SwitchReleaseCommand : AppCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Id")]
    [ValidateNotNullOrEmpty]
    public string ReleaseId { get; set; } = string.Empty;

    /// <summary>Switches even when the release's build is not complete.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        RequireLayout(DeployLayout.Release, "an InPlace checkout has no releases to switch between.");
        if (!ShouldProcess($"{AppPath}/current on {Session}", $"Point at release {ReleaseId}"))
        {
            return;
        }

        WriteObject(RunPhase(async (target, log, token) =>
        {
            if (!Force)
            {
                await new ArtifactInspector(Session, target, log).RequireCompleteAsync(target.ReleasePath(ReleaseId), ReleaseId, $"Release {ReleaseId}", token).ConfigureAwait(false);
            }

            var store = new ReleaseStore(Session, target, log);
            await store.SwitchAsync(ReleaseId, token).ConfigureAwait(false);
            var releases = await store.ListAsync(token).ConfigureAwait(false);
            return releases.Single(r => r.Id == ReleaseId);
        }));
    }
}
