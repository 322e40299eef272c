using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>
/// The parameters every phase cmdlet shares: the session and the app (path, name, layout, PM2). All of them
/// bind by property name, so that a phase's result object carries them to the next phase in a pipeline.
/// </summary>
public abstract class AppCmdlet : AedCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    public DeploySession Session { get; set; } = null!;

    /// <summary>The app's root on the server: the checkout (InPlace), or the folder with releases/ and current (Release).</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string AppPath { get; set; } = string.Empty;

    /// <summary>The app's name in PM2.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(AppNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string AppName { get; set; } = string.Empty;

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public DeployLayout Layout { get; set; } = DeployLayout.Release;

    /// <summary>How PM2 is called on the server, when it is not on the PATH of SSH sessions.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? Pm2Path { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? EcosystemFile { get; set; }

    /// <summary>The app target from the parameters; a bad path or name stops the cmdlet before anything runs.</summary>
    protected AppTarget Target
    {
        get
        {
            try
            {
                return new AppTarget(AppPath, AppName, Layout, Pm2Path, EcosystemFile);
            }
            catch (AedDeployException ex)
            {
                ThrowTerminatingError(ToErrorRecord(ex));
                throw;
            }
        }
    }

    /// <summary>Stops with a clear error when a cmdlet that only makes sense for one layout gets the other.</summary>
    protected void RequireLayout(DeployLayout layout, string why)
    {
        if (Layout != layout)
        {
            ThrowArgumentError($"{MyInvocation.MyCommand.Name.Replace("-", string.Empty, StringComparison.Ordinal)}Requires{layout}Layout",
                $"{MyInvocation.MyCommand.Name} works on the {layout} layout only: {why}", AppPath);
        }
    }

    /// <summary>Runs engine work for this app, with the session checked first.</summary>
    protected T RunPhase<T>(Func<AppTarget, IDeployLog, CancellationToken, Task<T>> work)
    {
        var target = Target;
        return RunEngine((log, token) =>
        {
            Session.EnsureOpen();
            return work(target, log, token);
        }, target.ToString());
    }
}
