using System.Diagnostics;

namespace AedDeploy.Engine;

/// <summary>Checks that a folder holds a complete Next.js build (Test-BuildArtifact).</summary>
public sealed class ArtifactInspector(DeploySession session, AppTarget target, IDeployLog log)
{
    private static readonly TimeSpan InspectTimeout = TimeSpan.FromMinutes(2);

    public async Task<ArtifactReport> InspectAsync(string folder, string? releaseId, CancellationToken cancellationToken)
    {
        Names.ValidateRemotePath(folder, "The build folder");
        session.EnsureOpen();
        var stopwatch = Stopwatch.StartNew();
        var runner = new RemoteRunner(session, log);
        var result = await runner.RunScriptAsync("inspect-build.js", [folder], cancellationToken, InspectTimeout).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new AedDeployException(
                "ArtifactInspectionFailed", FailureKind.InvalidOperation,
                $"Could not inspect the build in {folder} on {session.HostName} (exit {result.ExitStatus}). Is node on the PATH of SSH sessions?\n{result.Tail()}",
                folder);
        }

        var (buildId, checks) = RemoteAnswer.Json(result, "inspect-build.js", root => (
            root.GetProperty("buildId").GetString() ?? string.Empty,
            root.GetProperty("checks").EnumerateArray()
                .Select(c => new ArtifactCheck(c.GetProperty("name").GetString() ?? string.Empty, c.GetProperty("passed").GetBoolean(), c.GetProperty("detail").GetString() ?? string.Empty))
                .ToList()));
        return new ArtifactReport(session, target)
        {
            ReleaseId = releaseId,
            ReleasePath = folder,
            BuildId = buildId,
            Checks = checks,
            Duration = stopwatch.Elapsed,
        };
    }

    /// <summary>Inspects and throws <c>BuildIncomplete</c> unless every check passed.</summary>
    public async Task<ArtifactReport> RequireCompleteAsync(string folder, string? releaseId, string what, CancellationToken cancellationToken)
    {
        var report = await InspectAsync(folder, releaseId, cancellationToken).ConfigureAwait(false);
        if (!report.IsComplete)
        {
            throw new AedDeployException(
                "BuildIncomplete", FailureKind.InvalidResult,
                $"{what} in {folder} is not a complete build: " + string.Join("; ", report.Failures.Select(f => $"{f.Name}: {f.Detail}")),
                report);
        }

        return report;
    }
}
