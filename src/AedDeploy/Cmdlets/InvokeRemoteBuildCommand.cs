using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>
/// Gets the code for a ref and builds it on the server: into a new release (Release), or in the checkout
/// (InPlace). Dependencies are installed (npm ci with a lockfile), Prisma's client generated when the app
/// has a schema, and the build output streamed to Verbose.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "RemoteBuild", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(BuildResult))]
public sealed class InvokeRemoteBuildCommand : AppCmdlet
{
    /// <summary>The branch, tag or commit to build.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Branch", "Commit")]
    [ValidateNotNullOrEmpty]
    public string Ref { get; set; } = string.Empty;

    /// <summary>The git repository to clone from (Release layout); by default the live release's origin.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Repository { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string BuildCommand { get; set; } = "npm run build";

    [Parameter]
    [TimeSpanSeconds]
    public TimeSpan BuildTimeout { get; set; } = TimeSpan.FromMinutes(20);

    [Parameter]
    [TimeSpanSeconds]
    public TimeSpan InstallTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>The CPU niceness of the install and the build (0 to 19; 0 is normal priority), with the lowest best-effort I/O priority.</summary>
    [Parameter]
    [ValidateRange(0, 19)]
    public int BuildNiceness { get; set; } = 10;

    /// <summary>Starts the build without a copy of the live release's .next/cache (Release layout): a clean build.</summary>
    [Parameter]
    public SwitchParameter SkipBuildCache { get; set; }

    /// <summary>The new release's id (Release layout); by default the current UTC time.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ReleaseId { get; set; }

    protected override void ProcessRecord()
    {
        if (Layout == DeployLayout.InPlace && (Repository is not null || ReleaseId is not null))
        {
            ThrowArgumentError("InPlaceTakesNoRelease", "-Repository and -ReleaseId are for the Release layout: an InPlace build fetches the checkout's own origin in place.", AppPath);
        }

        var where = Layout == DeployLayout.Release ? $"a new release under {AppPath}/releases" : $"the checkout {AppPath} (the running app sees .next rebuilt)";
        if (!ShouldProcess($"{AppName} on {Session}", $"Build '{Ref}' in {where}"))
        {
            return;
        }

        var request = new BuildRequest
        {
            Ref = Ref,
            Repository = Repository,
            BuildCommand = BuildCommand,
            BuildTimeout = BuildTimeout,
            InstallTimeout = InstallTimeout,
            ReleaseId = ReleaseId,
            Niceness = BuildNiceness,
            UseBuildCache = !SkipBuildCache,
        };
        WriteObject(RunPhase((target, log, token) => new BuildService(Session, target, log).BuildAsync(request, token)));
    }
}
