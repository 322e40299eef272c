using System.Diagnostics;

namespace AedDeploy.Engine;

/// <summary>
/// Puts a backup back live (Restore-Build): Release, current switched back in one rename; InPlace, the
/// checkout reset to the backup's commit and .next swapped back without a moment with no .next. Then the
/// workers are reloaded onto it and health is proven. Restoring twice does no harm.
/// </summary>
public sealed class RestoreService(DeploySession session, AppTarget target, IDeployLog log)
{
    private const string Activity = "Restore-Build";
    private static readonly TimeSpan RestoreTimeout = TimeSpan.FromMinutes(10);

    public async Task<RestoreResult> RestoreAsync(BuildBackup backup, HealthRequest health, TimeSpan reloadTimeout, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var runner = new RemoteRunner(session, log);
        if (target.Layout == DeployLayout.Release)
        {
            var releaseId = backup.ReleaseId ?? throw new AedDeployException(
                "BackupHasNoRelease", FailureKind.InvalidArgument, "The backup names no release: it was not made in the Release layout.", backup);
            await new ArtifactInspector(session, target, log)
                .RequireCompleteAsync(target.ReleasePath(releaseId), releaseId, $"The rollback target {releaseId}", cancellationToken).ConfigureAwait(false);
            log.Progress(Activity, $"Pointing current back at {releaseId}", 10);
            await new ReleaseStore(session, target, log).SwitchAsync(releaseId, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            log.Progress(Activity, $"Putting {backup.BackupPath} back", 10);
            var restore = await runner.RunScriptAsync("restore-inplace.sh", [target.AppPath, Names.ValidateGitRef(backup.Commit)], cancellationToken, RestoreTimeout)
                .ConfigureAwait(false);
            if (!restore.Succeeded)
            {
                throw new AedDeployException(
                    restore.ExitStatus == ScriptExitCodes.RestoreInPlace.NoBackup ? "BackupMissing" : "RestoreFailed", FailureKind.InvalidOperation,
                    $"Restoring {target.AppPath} from {backup.BackupPath} failed on {session.HostName} (exit {restore.ExitStatus}):\n{restore.Tail()}",
                    backup);
            }

            if (RemoteAnswer.SplitLines(restore.Output).Contains("reinstall", StringComparer.Ordinal))
            {
                log.Progress(Activity, "Installing the backup's dependencies again", 30);
                var install = await runner.RunScriptAsync("install-dependencies.sh", [target.AppPath, string.Empty, string.Empty], cancellationToken, RestoreTimeout)
                    .ConfigureAwait(false);
                if (!install.Succeeded)
                {
                    throw new AedDeployException(
                        "RestoreFailed", FailureKind.InvalidOperation,
                        $"Installing the dependencies of commit {backup.Commit} in {target.AppPath} failed:\n{install.Tail()}", backup);
                }
            }
        }

        log.Progress(Activity, "Reloading the workers onto the backup", 50);
        var reload = await new ReloadService(session, target, log).ReloadAsync(reloadTimeout, cancellationToken, recovery: true).ConfigureAwait(false);
        log.Progress(Activity, "Proving health", 80);
        var report = await new HealthService(session, target, log).CheckAsync(health, cancellationToken).ConfigureAwait(false);
        var result = new RestoreResult(session, target)
        {
            ReleaseId = backup.ReleaseId,
            Commit = backup.Commit,
            BuildId = backup.BuildId,
            Reload = reload,
            Health = report,
            Duration = stopwatch.Elapsed,
        };
        if (!report.Healthy)
        {
            throw new AedDeployException(
                "RestoreUnhealthy", FailureKind.InvalidResult,
                $"The backup is back live on {session.HostName} but not healthy: {string.Join("; ", report.Problems)}", result);
        }

        log.Progress(Activity, "Restored", 100);
        return result;
    }
}
