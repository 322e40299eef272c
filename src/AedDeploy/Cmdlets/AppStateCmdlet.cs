using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>
/// The parameters of the cmdlets that work on what belongs to an app's path on the server, its lock and its
/// history under .aeddeploy (Get-DeployHistory, Unlock-Deploy): the session and -AppPath; -AppName is optional,
/// since nothing there needs PM2.
/// </summary>
public abstract class AppStateCmdlet : AedCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    public DeploySession Session { get; set; } = null!;

    /// <summary>The app's root on the server: the checkout (InPlace), or the folder with releases/ and current (Release).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string AppPath { get; set; } = string.Empty;

    /// <summary>The app's name in PM2, recorded in the history entries this cmdlet writes.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(AppNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string? AppName { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public DeployLayout Layout { get; set; } = DeployLayout.Release;

    /// <summary>Runs engine work on the app's path, with the session checked first; a bad path or name stops the cmdlet before anything runs.</summary>
    protected T RunOnState<T>(Func<AppTarget, IDeployLog, CancellationToken, Task<T>> work)
    {
        AppTarget target;
        try
        {
            target = AppTarget.ForState(AppPath, AppName, Layout);
        }
        catch (AedDeployException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex));
            throw;
        }

        return RunEngine((log, token) =>
        {
            Session.EnsureOpen();
            return work(target, log, token);
        }, target.AppPath);
    }
}
