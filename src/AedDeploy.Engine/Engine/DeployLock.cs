using System.Globalization;
using System.Text.Json;

namespace AedDeploy.Engine;

/// <summary>
/// The deploy lock on the server (an atomic mkdir under .aeddeploy), recording who, when and what. A second
/// deploy waits for it or fails clearly; a lock older than the stale age is reported as stale, never taken
/// over silently (Unlock-Deploy releases it and says so in the history).
/// </summary>
public sealed class DeployLock(DeploySession session, AppTarget target, IDeployLog log)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LockCommandTimeout = TimeSpan.FromSeconds(30);

    public async Task AcquireAsync(LockInfo owner, TimeSpan waitTimeout, TimeSpan staleAfter, CancellationToken cancellationToken)
    {
        var runner = new RemoteRunner(session.Shell, log);
        var ownerJson = JsonSerializer.Serialize(owner, ReleaseStore.JsonOptions);
        var deadline = DateTimeOffset.UtcNow + waitTimeout;
        while (true)
        {
            var result = await runner.RunScriptAsync("lock.sh", ["acquire", target.StatePath, ownerJson, owner.DeployId], cancellationToken, LockCommandTimeout)
                .ConfigureAwait(false);
            if (result.Succeeded)
            {
                log.Verbose($"Took the deploy lock of {target.AppPath} on {session.HostName}.");
                return;
            }

            if (result.ExitStatus != ScriptExitCodes.Lock.Held)
            {
                throw new AedDeployException("LockFailed", FailureKind.InvalidOperation,
                    $"Could not take the deploy lock in {target.StatePath} on {session.HostName}:\n{result.Tail()}", target.StatePath);
            }

            var holder = Parse(result.Output);
            if (holder.Age > staleAfter)
            {
                throw new AedDeployException(
                    "DeployLockStale", FailureKind.ResourceBusy,
                    $"{target.AppPath} on {session.HostName} is locked by {holder}, longer than a deploy takes ({staleAfter.TotalMinutes:0} min): that deploy probably died. "
                    + $"Check that it is not running, then release the lock with Unlock-Deploy -AppPath {target.AppPath} (the release is written to the history).",
                    holder);
            }

            if (DateTimeOffset.UtcNow >= deadline)
            {
                throw new AedDeployException(
                    "DeployLocked", FailureKind.ResourceBusy,
                    $"{target.AppPath} on {session.HostName} is being deployed: locked by {holder}. Try again when it has finished, or wait for it with -LockWaitTimeout.",
                    holder);
            }

            log.Progress("Waiting for the deploy lock", $"Held by {holder}", -1);
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Releases the lock if this deploy holds it.</summary>
    public async Task ReleaseAsync(string deployId, CancellationToken cancellationToken)
    {
        var result = await new RemoteRunner(session.Shell, log).RunScriptAsync("lock.sh", ["release", target.StatePath, deployId], cancellationToken, LockCommandTimeout)
            .ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new AedDeployException("LockReleaseFailed", FailureKind.InvalidOperation,
                $"Could not release the deploy lock in {target.StatePath} on {session.HostName}:\n{result.Tail()}", target.StatePath);
        }
    }

    /// <summary>Who holds the lock, or null when nobody does.</summary>
    public async Task<LockInfo?> ShowAsync(CancellationToken cancellationToken)
    {
        var result = await new RemoteRunner(session.Shell, log).RunScriptAsync("lock.sh", ["show", target.StatePath], cancellationToken, LockCommandTimeout)
            .ConfigureAwait(false);
        return string.IsNullOrWhiteSpace(result.Output) ? null : Parse(result.Output);
    }

    /// <summary>Removes the lock whoever holds it; returns who held it.</summary>
    public async Task<LockInfo?> ForceReleaseAsync(CancellationToken cancellationToken)
    {
        var result = await new RemoteRunner(session.Shell, log).RunScriptAsync("lock.sh", ["force", target.StatePath], cancellationToken, LockCommandTimeout)
            .ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new AedDeployException("LockReleaseFailed", FailureKind.InvalidOperation,
                $"Could not remove the deploy lock in {target.StatePath} on {session.HostName}:\n{result.Tail()}", target.StatePath);
        }

        return string.IsNullOrWhiteSpace(result.Output) ? null : Parse(result.Output);
    }

    // The script prints the owner's JSON on one line and the lock's age in seconds on the next.
    private static LockInfo Parse(string output)
    {
        var lines = output.Trim().Split('\n');
        LockInfo? owner = null;
        try
        {
            owner = JsonSerializer.Deserialize<LockInfo>(lines[0], ReleaseStore.JsonOptions);
        }
        catch (JsonException)
        {
            // A lock without a readable owner file is still a lock.
        }

        var age = lines.Length > 1 && long.TryParse(lines[1].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds) ? TimeSpan.FromSeconds(seconds) : TimeSpan.Zero;
        return new LockInfo
        {
            DeployId = owner?.DeployId ?? "unknown",
            User = owner?.User ?? "unknown",
            Ref = owner?.Ref,
            StartedAt = owner?.StartedAt,
            Age = age,
        };
    }
}
