using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>Reads the deploy history the server keeps (.aeddeploy/history.jsonl): deploys, rollbacks, repairs, lock takeovers and unlocks, oldest first.</summary>
[Cmdlet(VerbsCommon.Get, "DeployHistory")]
[OutputType(typeof(DeploymentRecord))]
public sealed class GetDeployHistoryCommand : AppStateCmdlet
{
    /// <summary>How many of the newest entries to read.</summary>
    [Parameter]
    [ValidateRange(1, 100000)]
    public int Last { get; set; } = 20;

    protected override void ProcessRecord()
    {
        foreach (var record in RunOnState((target, log, token) => new DeployHistory(Session, target, log).ReadAsync(Last, token)))
        {
            WriteObject(record);
        }
    }
}
