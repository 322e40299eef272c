using System.Globalization;

namespace AedDeploy.Engine.Fleet;

/// <summary>
/// How many hosts switch at once (-BatchSize): a count, or a percentage of the fleet ("25%"), which rounds down and is
/// at least one host (as Kamal sizes its boot groups). The hosts switch in lock order, batch after batch.
/// </summary>
public sealed record FleetBatchSize(int? Count, int? Percent)
{
    public static readonly FleetBatchSize One = new(1, null);

    /// <summary>Reads "2" or "50%"; anything else is a clear error.</summary>
    public static FleetBatchSize Parse(string text)
    {
        var trimmed = text.Trim();
        if (trimmed.EndsWith('%')
            && int.TryParse(trimmed[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var percent) && percent is >= 1 and <= 100)
        {
            return new FleetBatchSize(null, percent);
        }

        if (int.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count >= 1)
        {
            return new FleetBatchSize(count, null);
        }

        throw new AedDeployException(
            "BatchSizeInvalid", FailureKind.InvalidArgument,
            $"-BatchSize '{Names.Printable(text)}' is neither a number of hosts (1 or more) nor a percentage of the fleet (1% to 100%), such as 1, 2 or 50%.", text);
    }

    /// <summary>The number of hosts per batch in a fleet of <paramref name="hosts"/>.</summary>
    public int PerBatch(int hosts) => Math.Clamp(Count ?? Math.Max(1, hosts * Percent!.Value / 100), 1, Math.Max(1, hosts));

    /// <summary>The hosts (by index, in lock order) of each batch.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Split(int hosts)
    {
        var size = PerBatch(hosts);
        return Enumerable.Range(0, hosts).Chunk(size).Select(c => (IReadOnlyList<int>)c).ToList();
    }

    public override string ToString() => Count is { } count ? count.ToString(CultureInfo.InvariantCulture) : $"{Percent}%";
}
