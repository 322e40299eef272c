namespace AedDeploy;

/// <summary>
/// Who holds a target's deploy lock, since when, for what, and whether that holder is still alive: the lock is
/// a lease the holder renews every few seconds, so a lock not renewed for its lease belongs to a deploy that is gone.
/// </summary>
public sealed class LockInfo
{
    public string DeployId { get; init; } = string.Empty;

    public string User { get; init; } = string.Empty;

    public string? Ref { get; init; }

    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>The time since the holder last renewed the lock.</summary>
    public TimeSpan Age { get; init; }

    /// <summary>How long the lock lives without a renewal: the holder's own lease (or, for a lock that names none, the reader's).</summary>
    public TimeSpan Lease { get; init; }

    /// <summary>Not renewed for longer than its lease: the next deploy takes it over.</summary>
    public bool IsExpired => Age > Lease;

    public override string ToString() =>
        $"deploy {DeployId}{(Ref is null ? string.Empty : $" of '{Ref}'")} by {User}, started {StartedAt?.ToString("u", System.Globalization.CultureInfo.InvariantCulture) ?? "at an unknown time"}, "
        + $"{(IsExpired ? "abandoned: not renewed for" : "renewed")} {Age.TotalSeconds:0} s {(IsExpired ? $"(lease {Lease.TotalSeconds:0} s)" : "ago")}";
}
