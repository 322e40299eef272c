using System.Diagnostics;

namespace AedDeploy.Engine;

/// <summary>
/// Keeps the live build as the thing a deploy can go back to (Backup-Build). InPlace: a complete copy of
/// <c>.next</c>. Release: the live release becomes the rollback target, protected from pruning, once it is proven to be
/// the last release recorded Verified (TargetDrifted otherwise).
/// A build that is not complete is never backed up: a rollback to it would be an outage.
/// </summary>
public sealed class BackupService(DeploySession session, AppTarget target, IDeployLog log)
{
    private static readonly TimeSpan BackupTimeout = TimeSpan.FromMinutes(10);

    public async Task<BuildBackup> BackupAsync(CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var runner = new RemoteRunner(session, log);
        var inspector = new ArtifactInspector(session, target, log);
        if (target.Layout == DeployLayout.Release)
        {
            var store = new ReleaseStore(session, target, log);
            var liveId = await store.GetLiveIdAsync(cancellationToken).ConfigureAwait(false)
                ?? throw new AedDeployException(
                    "NoLiveRelease", FailureKind.NotFound,
                    $"{target.LivePath} on {session.HostName} is not a link into {target.ReleasesPath}. Set the server up with Initialize-DeployTarget, or use -Layout InPlace for a single checkout.",
                    target.LivePath);
            // The rollback target is the last release proven healthy, not whatever current points at: a deploy
            // killed after its switch leaves current on a release nothing ever verified.
            var releases = await store.ListAsync(cancellationToken).ConfigureAwait(false);
            var rollbackTarget = TargetInspector.ChooseRollbackTarget(releases);
            if (rollbackTarget?.Id != liveId)
            {
                throw TargetInspector.Drifted(target, session.HostName, TargetInspector.FindProblems(target.Layout, string.Empty, [], releases, rollbackTarget), liveId);
            }

            var livePath = target.ReleasePath(liveId);
            var report = await inspector.RequireCompleteAsync(livePath, liveId, "The live release", cancellationToken).ConfigureAwait(false);
            var commit = await runner.RunCheckedAsync("git -C \"$1\" rev-parse --verify HEAD", "BackupFailed", "Reading the live release's commit", cancellationToken, arguments: [livePath])
                .ConfigureAwait(false);
            await store.SetRollbackTargetAsync(liveId, cancellationToken).ConfigureAwait(false);
            log.Verbose($"Release {liveId} ({report.BuildId}) is the rollback target.");
            return new BuildBackup(session, target)
            {
                ReleaseId = liveId,
                BackupPath = livePath,
                Commit = commit.Output.Trim(),
                BuildId = report.BuildId,
                Duration = stopwatch.Elapsed,
            };
        }

        var live = await inspector.RequireCompleteAsync(target.AppPath, null, "The live build", cancellationToken).ConfigureAwait(false);
        log.Progress("Backup-Build", $"Copying {target.AppPath}/.next to .next.backup", -1);
        var result = await runner.RunScriptAsync("backup-inplace.sh", [target.AppPath, live.BuildId], cancellationToken, BackupTimeout).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new AedDeployException(
                "BackupFailed", FailureKind.InvalidOperation,
                $"Copying {target.AppPath}/.next to .next.backup failed on {session.HostName} (exit {result.ExitStatus}); the previous backup is unchanged:\n{result.Tail()}",
                target.AppPath);
        }

        return new BuildBackup(session, target)
        {
            BackupPath = $"{target.AppPath}/.next.backup",
            Commit = RemoteAnswer.Lines(result, "backup-inplace.sh", 1)[0],
            BuildId = live.BuildId,
            Duration = stopwatch.Elapsed,
        };
    }
}
