namespace AedDeploy;

/// <summary>
/// What proves two hosts hold the same build (the fleet's Identity phase): the build id, hashes of the static files
/// and of the server manifests, and a hash of the Server Actions key the app will really use. Never the key itself.
/// </summary>
public sealed record BuildIdentity(string BuildId, string StaticHash, string ServerHash, string KeyHash, string KeySource, int Actions, string Fingerprint);

/// <summary>
/// The record of one fleet deploy (Invoke-ZeroDowntimeDeploy with several sessions): one build shipped to every host,
/// switched in batches, and rolled back on every switched host when any host failed. Each host's own record (in
/// <see cref="Hosts"/>, with this record's <see cref="Id"/> as its FleetId) is written to that host's history.
/// </summary>
public sealed class FleetDeploymentRecord
{
    public string Id { get; init; } = string.Empty;

    public string AppName { get; init; } = string.Empty;

    public string? Ref { get; init; }

    public string? Commit { get; set; }

    public string? BuildId { get; set; }

    /// <summary>The identity every host proved before the first switch (BuildIdentity.Fingerprint).</summary>
    public string? Fingerprint { get; set; }

    public DeploymentOutcome Outcome { get; set; } = DeploymentOutcome.Failed;

    public string? Reason { get; set; }

    public string? ErrorId { get; set; }

    /// <summary>The host whose failure stopped the fleet; null when a fleet phase failed (the ship, the barrier, the load balancer).</summary>
    public string? FailedHost { get; set; }

    /// <summary>The failing host's phase, or the fleet phase that failed.</summary>
    public string? FailedPhase { get; set; }

    /// <summary>The host the release was built on.</summary>
    public string BuildHost { get; init; } = string.Empty;

    /// <summary>The size of the archive shipped to the other hosts (gzip).</summary>
    public long ShipBytes { get; set; }

    /// <summary>How long pulling the archive from the build host took.</summary>
    public TimeSpan ShipDuration { get; set; }

    /// <summary>The hosts of each batch, in the order they switched (by HostName).</summary>
    public List<string[]> Batches { get; init; } = [];

    /// <summary>The fleet's own phases: the ship, the barrier, each batch, each load-balancer gate.</summary>
    public List<PhaseRecord> Phases { get; init; } = [];

    /// <summary>Each host's record, in lock order.</summary>
    public List<DeploymentRecord> Hosts { get; init; } = [];

    /// <summary>Who ran it: user@machine.</summary>
    public string User { get; init; } = string.Empty;

    public DateTimeOffset StartedAt { get; init; } = DateTimeOffset.UtcNow;

    public TimeSpan Duration { get; set; }

    public override string ToString() =>
        $"Fleet deploy {Id} {AppName} to {Hosts.Count} host(s): {Outcome}{(Reason is null ? string.Empty : $" ({Reason})")}";
}
