using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>
/// Deletes the files of an nginx proxy cache (open-source nginx has no purge) and reloads nginx only after
/// its configuration test passed. A failure is a warning, or an error with -Strict.
/// </summary>
[Cmdlet(VerbsCommon.Clear, "NginxCache", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(CacheClearResult))]
public sealed class ClearNginxCacheCommand : AedCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    public DeploySession Session { get; set; } = null!;

    /// <summary>The proxy_cache_path folder.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string CachePath { get; set; } = string.Empty;

    /// <summary>The command that tests nginx's configuration (nginx -t) on the server.</summary>
    [Parameter]
    [Alias("TestCommand")]
    [ValidateNotNullOrEmpty]
    public string NginxTestCommand { get; set; } = NginxCacheService.DefaultTestCommand;

    /// <summary>The command that reloads nginx on the server.</summary>
    [Parameter]
    [Alias("ReloadCommand")]
    [ValidateNotNullOrEmpty]
    public string NginxReloadCommand { get; set; } = NginxCacheService.DefaultReloadCommand;

    /// <summary>Makes a failure a terminating error instead of a warning.</summary>
    [Parameter]
    public SwitchParameter Strict { get; set; }

    protected override void ProcessRecord()
    {
        if (!ShouldProcess($"{CachePath} on {Session}", "Delete the cached files and reload nginx"))
        {
            return;
        }

        var result = RunEngine((log, token) =>
        {
            Session.EnsureOpen();
            return new NginxCacheService(Session, log).ClearAsync(CachePath, NginxTestCommand, NginxReloadCommand, token);
        }, CachePath);

        if (result.Problem is not null)
        {
            if (Strict)
            {
                ThrowTerminatingError(ToErrorRecord(new AedDeployException("NginxCacheClearFailed", FailureKind.InvalidOperation, result.Problem, result)));
            }

            WriteWarning($"Clear-NginxCache: {result.Problem}");
        }

        WriteObject(result);
    }
}
