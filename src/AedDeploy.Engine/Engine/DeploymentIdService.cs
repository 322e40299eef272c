using System.Text.RegularExpressions;
using AedDeploy.Transport;

namespace AedDeploy.Engine;

/// <summary>
/// Next.js's deploymentId (NEXT_DEPLOYMENT_ID) for a release: the build gets it in its environment (the orchestrator
/// prefixes the build command), and the release's <c>next start</c> gets it from the release's own
/// <c>.env.production.local</c>. With it Next adds <c>?dpl=&lt;id&gt;</c> to asset URLs, sends it on client-side
/// navigations, and a client whose id no longer matches the server's reloads the page instead of navigating.
/// </summary>
public sealed partial class DeploymentIdService(DeploySession session, AppTarget target, IDeployLog log)
{
    /// <summary>What next build accepts (build/index.js: letters, digits, '-' and '_'), and short enough for a URL.</summary>
    public static string Validate(string deploymentId) =>
        ValidId().IsMatch(deploymentId)
            ? deploymentId
            : throw new AedDeployException(
                "InvalidDeploymentId", FailureKind.InvalidArgument,
                $"The deployment id '{Names.Printable(deploymentId)}' may hold only letters, digits, '-' and '_' (1 to 64 of them), as Next.js requires.", deploymentId);

    /// <summary>The build command with NEXT_DEPLOYMENT_ID set for it (build-app.sh runs it with bash -c).</summary>
    public static string BuildCommand(string buildCommand, string deploymentId) =>
        $"NEXT_DEPLOYMENT_ID={ShellQuote.Quote(Validate(deploymentId))} {buildCommand}";

    /// <summary>Writes the id into the release's <c>.env.production.local</c>, which its <c>next start</c> loads.</summary>
    public async Task<string> WriteAsync(string releaseId, string deploymentId, CancellationToken cancellationToken)
    {
        var release = target.ReleasePath(releaseId);
        var result = await new RemoteRunner(session, log)
            .RunScriptAsync("write-deployment-id.sh", [release, Validate(deploymentId)], cancellationToken, TimeSpan.FromMinutes(1)).ConfigureAwait(false);
        return result.Succeeded
            ? $"NEXT_DEPLOYMENT_ID={deploymentId} in {release}/.env.production.local"
            : throw new AedDeployException(
                result.ExitStatus == 4 ? "DeploymentIdFileShared" : "DeploymentIdWriteFailed", FailureKind.InvalidOperation,
                $"Writing the deployment id into {release}/.env.production.local failed on {session.HostName} (exit {result.ExitStatus}):\n{result.Tail()}", release);
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex ValidId();
}
