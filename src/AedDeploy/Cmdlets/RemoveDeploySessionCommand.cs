using System.Management.Automation;

namespace AedDeploy.Cmdlets;

/// <summary>Closes deploy sessions. Closing a session that is already closed or lost is harmless.</summary>
[Cmdlet(VerbsCommon.Remove, "DeploySession", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
public sealed class RemoveDeploySessionCommand : AedCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    public DeploySession[] Session { get; set; } = [];

    protected override void ProcessRecord()
    {
        foreach (var session in Session)
        {
            if (ShouldProcess(session.ToString(), "Close the deploy session"))
            {
                session.Dispose();
                WriteVerbose($"Closed the session to {session}.");
            }
        }
    }
}
