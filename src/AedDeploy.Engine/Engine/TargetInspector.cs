using System.Globalization;

namespace AedDeploy.Engine;

/// <summary>
/// Checks a target's consistency invariants instead of trusting them: (a) the live folder is what PM2's workers
/// run (<c>/proc/&lt;pid&gt;/cwd</c> of each worker resolves to <c>readlink -f current</c>, or to the InPlace
/// checkout); (b) Release layout: the live release is the last release recorded Verified, which is the rollback
/// target, never merely what <c>current</c> points at. A deploy killed after its switch, or a hand-made switch,
/// breaks them; the lock's own invariant (its holder renews it) is the lock's to check.
/// </summary>
public sealed class TargetInspector(DeploySession session, AppTarget target, IDeployLog log)
{
    public async Task<TargetConsistency> InspectAsync(CancellationToken cancellationToken)
    {
        var runner = new RemoteRunner(session, log);
        var workers = await new Pm2Client(runner, target).ListAsync(cancellationToken).ConfigureAwait(false);
        var folders = await runner.RunAsync(
            """
            readlink -f -- "$1"; shift
            for pid in "$@"; do printf '%s %s\n' "$pid" "$(readlink -f "/proc/$pid/cwd" 2>/dev/null)"; done
            """,
            cancellationToken, arguments: [target.LivePath, .. workers.Select(p => p.Pid.ToString(CultureInfo.InvariantCulture))]).ConfigureAwait(false);
        var lines = folders.Output.TrimEnd('\n').Split('\n');
        var liveFolder = lines[0].Trim();
        var byPid = lines.Skip(1).Select(l => l.Split(' ', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1].Trim(), StringComparer.Ordinal);
        var running = workers
            .Select(p => new WorkerFolder(p.PmId, p.Pid, p.Status, byPid.GetValueOrDefault(p.Pid.ToString(CultureInfo.InvariantCulture), string.Empty)))
            .ToList();

        IReadOnlyList<ReleaseInfo> releases = [];
        if (target.Layout == DeployLayout.Release)
        {
            releases = await new ReleaseStore(session, target, log).ListAsync(cancellationToken).ConfigureAwait(false);
        }

        var rollbackTarget = target.Layout == DeployLayout.Release ? ChooseRollbackTarget(releases) : null;
        return new TargetConsistency(session, target)
        {
            LiveFolder = liveFolder,
            LiveRelease = releases.FirstOrDefault(r => r.IsLive)?.Id,
            RollbackTarget = rollbackTarget?.Id,
            Workers = running,
            Releases = releases,
            UnfinishedReleases = FindUnfinished(releases),
            Problems = FindProblems(target.Layout, liveFolder, running, releases, rollbackTarget),
        };
    }

    /// <summary>
    /// The releases as Get-Release shows them: while the lock is held by a deploy that stopped renewing it, nothing
    /// builds any more, so a release it left Building or Built (not live) is shown Failed, as the takeover of the
    /// next deploy or Repair-DeployTarget will record it.
    /// </summary>
    public async Task<IReadOnlyList<ReleaseInfo>> ListReleasesAsync(CancellationToken cancellationToken)
    {
        var releases = await new ReleaseStore(session, target, log).ListAsync(cancellationToken).ConfigureAwait(false);
        var holder = await new DeployLock(session, target, log).ShowAsync(cancellationToken).ConfigureAwait(false);
        return ShowAbandoned(releases, holder);
    }

    /// <summary>The releases, with those an abandoned lock's holder left unfinished shown Failed (no remote call: see <see cref="ListReleasesAsync"/>).</summary>
    public IReadOnlyList<ReleaseInfo> ShowAbandoned(IReadOnlyList<ReleaseInfo> releases, LockInfo? holder)
    {
        if (holder is not { IsExpired: true })
        {
            return releases;
        }

        var unfinished = FindUnfinished(releases);
        return releases.Select(r => !unfinished.Contains(r.Id) ? r : new ReleaseInfo(session, target)
        {
            Id = r.Id,
            Path = r.Path,
            Status = ReleaseStatus.Failed,
            IsLive = r.IsLive,
            IsRollbackTarget = r.IsRollbackTarget,
            Commit = r.Commit,
            Ref = r.Ref,
            BuildId = r.BuildId,
            CreatedAt = r.CreatedAt,
            VerifiedAt = r.VerifiedAt,
            Reason = $"abandoned by deploy {holder.DeployId} (its lock was not renewed for {holder.Age.TotalSeconds:0} s); the next deploy records it",
        }).ToList();
    }

    /// <summary>Inspects and fails with TargetDrifted, naming what is wrong and the command that fixes it, unless the target is consistent.</summary>
    public async Task<TargetConsistency> RequireConsistentAsync(CancellationToken cancellationToken)
    {
        var state = await InspectAsync(cancellationToken).ConfigureAwait(false);
        return state.IsConsistent ? state : throw Drifted(target, session.HostName, state.Problems, state);
    }

    /// <summary>The TargetDrifted error: what is wrong, and the command that fixes it.</summary>
    public static AedDeployException Drifted(AppTarget target, string hostName, IReadOnlyList<string> problems, object? errorTarget) =>
        new("TargetDrifted", FailureKind.InvalidOperation,
            $"{target} on {hostName} is not in a consistent state: {string.Join("; ", problems)}. "
            + $"Bring it back with: Repair-DeployTarget -Session $session -AppPath {target.AppPath} -AppName {target.AppName}{(target.Layout == DeployLayout.InPlace ? " -Layout InPlace" : string.Empty)} -HealthUrl <url> "
            + "(it puts the last verified release back live and proves it healthy; with -KeepLive it proves the live release healthy and records it verified instead).",
            errorTarget);

    /// <summary>
    /// The release a rollback may go back to. The last release recorded Verified (by when it was verified); on a
    /// target where none was ever verified, the release a backup adopted as the rollback target (one AedDeploy did
    /// not make, or the first release Initialize-DeployTarget made), else a live release AedDeploy did not make.
    /// A release that failed, or one built and never proven, is never a rollback target.
    /// </summary>
    public static ReleaseInfo? ChooseRollbackTarget(IReadOnlyList<ReleaseInfo> releases)
    {
        var verified = releases.Where(r => r.Status == ReleaseStatus.Verified)
            .OrderBy(r => r.VerifiedAt ?? DateTimeOffset.MinValue).ThenBy(r => r.Id, StringComparer.Ordinal).LastOrDefault();
        if (verified is not null)
        {
            return verified;
        }

        return releases.FirstOrDefault(r => r.IsRollbackTarget && r.Status is ReleaseStatus.Unknown or ReleaseStatus.Built)
            ?? releases.FirstOrDefault(r => r.IsLive && r.Status == ReleaseStatus.Unknown);
    }

    /// <summary>Releases left Building or Built, neither live nor verified.</summary>
    public static IReadOnlyList<string> FindUnfinished(IReadOnlyList<ReleaseInfo> releases) =>
        releases.Where(r => r.Status is ReleaseStatus.Building or ReleaseStatus.Built && !r.IsLive && !r.IsRollbackTarget).Select(r => r.Id).ToList();

    /// <summary>What breaks the invariants; empty when the target is consistent.</summary>
    public static IReadOnlyList<string> FindProblems(
        DeployLayout layout, string liveFolder, IReadOnlyList<WorkerFolder> workers, IReadOnlyList<ReleaseInfo> releases, ReleaseInfo? rollbackTarget)
    {
        var problems = new List<string>();
        foreach (var worker in workers.Where(w => w.Folder != liveFolder))
        {
            problems.Add(worker.Folder.Length == 0
                ? $"PM2 instance {worker.PmId} ({worker.Status}) has no running worker"
                : $"PM2 instance {worker.PmId} (pid {worker.Pid}) runs {worker.Folder}, not the live {liveFolder}");
        }

        if (layout == DeployLayout.Release)
        {
            var live = releases.FirstOrDefault(r => r.IsLive);
            if (rollbackTarget is null)
            {
                problems.Add(live is null
                    ? "current points at no release, and no release is recorded Verified"
                    : $"no release is recorded Verified, and the live release {live.Id} is {live.Status}, never proven healthy");
            }
            else if (live is null)
            {
                problems.Add($"current points at no release; the last verified release is {rollbackTarget.Id}");
            }
            else if (live.Id != rollbackTarget.Id)
            {
                problems.Add($"current points at release {live.Id} ({live.Status}{(live.Reason is null ? string.Empty : $": {live.Reason}")}), "
                    + $"but the last release recorded Verified is {rollbackTarget.Id}");
            }
        }

        return problems;
    }
}
