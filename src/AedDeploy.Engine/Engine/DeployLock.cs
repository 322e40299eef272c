using System.Globalization;
using System.Text.Json;

namespace AedDeploy.Engine;

/// <summary>
/// The deploy lock on the server, held as a lease (Scripts/lock.sh): an atomic mkdir under .aeddeploy recording
/// who, when and what, renewed by its holder every few seconds while it works (<see cref="StartRenewing"/>).
/// A second deploy waits for it or fails clearly while it is renewed, and never takes it then; a lock not
/// renewed for its lease belongs to a deploy that died (SIGKILL, a lost machine), and the next deploy takes it
/// over and is told whose it was, so that it repairs what that deploy left before anything else.
/// </summary>
public sealed class DeployLock(DeploySession session, AppTarget target, IDeployLog log)
{
    /// <summary>How long a lock lives without a renewal, unless the deploy says otherwise (-LockLease).</summary>
    public static readonly TimeSpan DefaultLease = TimeSpan.FromSeconds(60);

    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LockCommandTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How often a holder renews a lock of <paramref name="lease"/>: five times per lease, so that a few failed
    /// renewals in a row (a slow server, a reconnect) do not let it expire; never more often than once a second.
    /// </summary>
    public static TimeSpan RenewalInterval(TimeSpan lease) =>
        TimeSpan.FromTicks(Math.Clamp(lease.Ticks / 5, TimeSpan.FromSeconds(1).Ticks, TimeSpan.FromSeconds(15).Ticks));

    /// <summary>
    /// Takes the lock for <paramref name="owner"/>, waiting up to <paramref name="waitTimeout"/> for its holder to
    /// release it or to stop renewing it. Returns null when the lock was free, or the abandoned holder when it was
    /// taken over from a deploy that had not renewed it for its lease; <paramref name="leftBehind"/> says, in the
    /// warning a takeover writes, what becomes of what that deploy left.
    /// </summary>
    public async Task<LockInfo?> AcquireAsync(
        LockInfo owner, TimeSpan waitTimeout, TimeSpan lease, CancellationToken cancellationToken, string leftBehind = "what it left is repaired first")
    {
        var runner = new RemoteRunner(session, log);
        var ownerJson = JsonSerializer.Serialize(owner, ReleaseStore.JsonOptions);
        var leaseSeconds = Math.Max(1, (long)Math.Ceiling(lease.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        var deadline = DateTimeOffset.UtcNow + waitTimeout;
        while (true)
        {
            var result = await runner.RunScriptAsync("lock.sh", ["acquire", target.StatePath, ownerJson, owner.DeployId, leaseSeconds], cancellationToken, LockCommandTimeout)
                .ConfigureAwait(false);
            if (result.Succeeded)
            {
                log.Verbose($"Took the deploy lock of {target.AppPath} on {session.HostName}.");
                return null;
            }

            if (result.ExitStatus == ScriptExitCodes.Lock.TakenOver)
            {
                var abandoned = Parse(result.Output, lease);
                log.Warning($"Took over the deploy lock of {target.AppPath} on {session.HostName} from {abandoned}: that deploy is gone, and {leftBehind}.");
                return abandoned;
            }

            if (result.ExitStatus != ScriptExitCodes.Lock.Held)
            {
                throw new AedDeployException("LockFailed", FailureKind.InvalidOperation,
                    $"Could not take the deploy lock in {target.StatePath} on {session.HostName}:\n{result.Tail()}", target.StatePath);
            }

            var holder = Parse(result.Output, lease);
            if (DateTimeOffset.UtcNow >= deadline)
            {
                throw new AedDeployException(
                    "DeployLocked", FailureKind.ResourceBusy,
                    $"{target.AppPath} on {session.HostName} is being deployed: locked by {holder}. Try again when it has finished, or wait for it with -LockWaitTimeout "
                    + $"(a deploy that dies stops renewing its lock, which is then taken over once its lease of {holder.Lease.TotalSeconds:0} s has run out).",
                    holder);
            }

            log.Progress("Waiting for the deploy lock", $"Held by {holder}", -1);
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Renews the lock once; false (and why, in <paramref name="problem"/>) when this deploy does not hold it or the server did not answer.</summary>
    public async Task<(bool Renewed, string? Problem)> RenewAsync(string deployId, CancellationToken cancellationToken)
    {
        var result = await new RemoteRunner(session, log).RunScriptAsync("lock.sh", ["renew", target.StatePath, deployId], cancellationToken, LockCommandTimeout)
            .ConfigureAwait(false);
        return result.Succeeded ? (true, null) : (false, result.Tail(3));
    }

    /// <summary>
    /// Renews the lock every <paramref name="interval"/> in the background until disposed. A renewal that fails
    /// (a dropped connection, a slow server) is logged as a warning and tried again at the next interval: it never
    /// fails the deploy that holds the lock, and disposing stops it quietly.
    /// </summary>
    public IAsyncDisposable StartRenewing(string deployId, TimeSpan interval) => new Renewal(this, deployId, interval, log);

    /// <summary>Releases the lock if this deploy holds it.</summary>
    public async Task ReleaseAsync(string deployId, CancellationToken cancellationToken)
    {
        var result = await new RemoteRunner(session, log).RunScriptAsync("lock.sh", ["release", target.StatePath, deployId], cancellationToken, LockCommandTimeout)
            .ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new AedDeployException("LockReleaseFailed", FailureKind.InvalidOperation,
                $"Could not release the deploy lock in {target.StatePath} on {session.HostName}:\n{result.Tail()}", target.StatePath);
        }
    }

    /// <summary>Who holds the lock, or null when nobody does; a lock that names no lease is judged by <paramref name="lease"/>.</summary>
    public async Task<LockInfo?> ShowAsync(CancellationToken cancellationToken, TimeSpan? lease = null)
    {
        var result = await new RemoteRunner(session, log).RunScriptAsync("lock.sh", ["show", target.StatePath], cancellationToken, LockCommandTimeout)
            .ConfigureAwait(false);
        return string.IsNullOrWhiteSpace(result.Output) ? null : Parse(result.Output, lease ?? DefaultLease);
    }

    /// <summary>Removes the lock whoever holds it; returns who held it.</summary>
    public async Task<LockInfo?> ForceReleaseAsync(CancellationToken cancellationToken)
    {
        var result = await new RemoteRunner(session, log).RunScriptAsync("lock.sh", ["force", target.StatePath], cancellationToken, LockCommandTimeout)
            .ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new AedDeployException("LockReleaseFailed", FailureKind.InvalidOperation,
                $"Could not remove the deploy lock in {target.StatePath} on {session.HostName}:\n{result.Tail()}", target.StatePath);
        }

        return string.IsNullOrWhiteSpace(result.Output) ? null : Parse(result.Output, DefaultLease);
    }

    /// <summary>
    /// Reads what lock.sh prints about a lock: the owner's JSON on one line, the seconds since its last renewal on
    /// the next, and its lease in seconds on the third (empty for a lock that names none: <paramref name="defaultLease"/>).
    /// </summary>
    internal static LockInfo Parse(string output, TimeSpan defaultLease)
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

        var age = Seconds(lines, 1) ?? TimeSpan.Zero;
        return new LockInfo
        {
            DeployId = owner?.DeployId ?? "unknown",
            User = owner?.User ?? "unknown",
            Ref = owner?.Ref,
            StartedAt = owner?.StartedAt,
            Age = age,
            Lease = Seconds(lines, 2) ?? defaultLease,
        };
    }

    private static TimeSpan? Seconds(string[] lines, int index) =>
        lines.Length > index && long.TryParse(lines[index].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds) ? TimeSpan.FromSeconds(seconds) : null;

    private sealed class Renewal : IAsyncDisposable
    {
        private readonly CancellationTokenSource stop = new();
        private readonly Task loop;

        public Renewal(DeployLock owner, string deployId, TimeSpan interval, IDeployLog log)
        {
            // Its own token, not the deploy's: after Ctrl+C the rollback still runs under the lock, and must keep it.
            loop = Task.Run(() => RenewAsync(owner, deployId, interval, log, stop.Token));
        }

        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await loop.ConfigureAwait(false);
            stop.Dispose();
        }

        private static async Task RenewAsync(DeployLock owner, string deployId, TimeSpan interval, IDeployLog log, CancellationToken stopping)
        {
            string? lastProblem = null;
            while (!stopping.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(interval, stopping).ConfigureAwait(false);
                    var (renewed, problem) = await owner.RenewAsync(deployId, stopping).ConfigureAwait(false);
                    if (!renewed && problem != lastProblem)
                    {
                        log.Warning($"Renewing the deploy lock failed; trying again in {interval.TotalSeconds:0.#} s: {problem}");
                    }

                    lastProblem = renewed ? null : problem;
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    // Anything (a dropped connection, a shell being replaced by a reconnect) is retried at the next
                    // interval: a renewal must never end the deploy it keeps alive.
                    if (ex.Message != lastProblem)
                    {
                        log.Warning($"Renewing the deploy lock failed; trying again in {interval.TotalSeconds:0.#} s: {ex.Message}");
                    }

                    lastProblem = ex.Message;
                }
            }
        }
    }
}
