using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>
/// Runs a bash command on the session's target, for custom pipelines. Output lines reach Verbose and
/// Information while the command runs; the result says how it ended.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "DeployCommand", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(CommandResult))]
public sealed class InvokeDeployCommandCommand : AedCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    public DeploySession Session { get; set; } = null!;

    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Command { get; set; } = string.Empty;

    /// <summary>Values passed to the command as $1, $2, …: quoted, never read as command text.</summary>
    [Parameter(Position = 1)]
    [AllowEmptyString]
    public string[] ArgumentList { get; set; } = [];

    [Parameter]
    [TimeSpanSeconds]
    public TimeSpan Timeout { get; set; } = RemoteRunner.DefaultTimeout;

    [Parameter]
    public SwitchParameter ErrorOnNonZeroExit { get; set; }

    protected override void ProcessRecord()
    {
        if (!ShouldProcess(Session.ToString(), $"Run '{Command}'"))
        {
            return;
        }

        var result = RunEngine((log, token) =>
        {
            Session.EnsureOpen();
            return new RemoteRunner(Session, log).RunAsync(Command, token, Timeout, ArgumentList);
        }, Session);

        if (ErrorOnNonZeroExit && !result.Succeeded)
        {
            var exception = new AedDeployException(
                "RemoteCommandFailed", FailureKind.InvalidResult,
                $"The command exited with status {result.ExitStatus} on {result.HostName}:\n{result.Tail()}", result);
            WriteError(ToErrorRecord(exception, result));
            return;
        }

        WriteObject(result);
    }
}
