namespace AedDeploy;

/// <summary>Who holds a target's deploy lock, since when, for what.</summary>
public sealed class LockInfo
{
    public string DeployId { get; init; } = string.Empty;

    public string User { get; init; } = string.Empty;

    public string? Ref { get; init; }

    public DateTimeOffset? StartedAt { get; init; }

    public TimeSpan Age { get; init; }

    public override string ToString() => $"deploy {DeployId} of '{Ref}' by {User}, {Age.TotalMinutes:0} min ago";
}
