namespace AedDeploy.Transport;

/// <summary>What the policy concluded about the key a server presented.</summary>
public enum HostKeyVerdict
{
    /// <summary>The key is in known_hosts for this host, or matches the pinned fingerprint.</summary>
    Trusted,

    /// <summary>The host has no entry and trust-on-first-use was asked for: the key is written and trusted.</summary>
    TrustedOnFirstUse,

    /// <summary>The host has no entry, and nothing allows trusting a new one.</summary>
    Unknown,

    /// <summary>The host has entries and none of them is this key: it may be an attack.</summary>
    Mismatch,

    /// <summary>The key is marked @revoked.</summary>
    Revoked,

    /// <summary>A fingerprint was pinned and the key does not have it.</summary>
    FingerprintMismatch,
}

/// <summary>
/// Decides whether to trust a server's host key. Nothing is trusted silently: a host is trusted when
/// known_hosts lists the key, when the key has the pinned fingerprint, or on first use when asked for.
/// </summary>
public sealed class HostKeyPolicy
{
    private readonly IReadOnlyList<KnownHostKey> known;
    private readonly string? pinnedFingerprint;
    private readonly bool acceptNew;

    public HostKeyPolicy(IReadOnlyList<KnownHostKey> knownKeys, string? pinnedFingerprint, bool acceptNew)
    {
        known = knownKeys;
        this.pinnedFingerprint = string.IsNullOrWhiteSpace(pinnedFingerprint) ? null : SshKeys.NormalizeFingerprint(pinnedFingerprint);
        this.acceptNew = acceptNew;
    }

    /// <summary>
    /// The key types the known_hosts entries hold for the host, so that only algorithms that can be verified
    /// are offered (a server that also has an ed25519 key must still be reachable through an RSA-only entry).
    /// Null when any algorithm may be offered (unknown host, or a pinned fingerprint).
    /// </summary>
    public IReadOnlySet<string>? AllowedKeyTypes =>
        pinnedFingerprint is null && known.Any(k => !k.Revoked)
            ? known.Where(k => !k.Revoked).Select(k => k.KeyType).ToHashSet(StringComparer.Ordinal)
            : null;

    public HostKeyVerdict Evaluate(byte[] blob)
    {
        var fingerprint = SshKeys.Sha256Fingerprint(blob);
        if (known.Any(k => k.Revoked && k.Blob.AsSpan().SequenceEqual(blob)))
        {
            return HostKeyVerdict.Revoked;
        }

        if (pinnedFingerprint is not null)
        {
            return string.Equals(fingerprint, pinnedFingerprint, StringComparison.Ordinal)
                ? HostKeyVerdict.Trusted
                : HostKeyVerdict.FingerprintMismatch;
        }

        var candidates = known.Where(k => !k.Revoked).ToList();
        if (candidates.Count == 0)
        {
            return acceptNew ? HostKeyVerdict.TrustedOnFirstUse : HostKeyVerdict.Unknown;
        }

        return candidates.Any(k => k.Blob.AsSpan().SequenceEqual(blob)) ? HostKeyVerdict.Trusted : HostKeyVerdict.Mismatch;
    }
}
