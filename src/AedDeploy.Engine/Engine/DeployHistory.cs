using System.Text.Json;

namespace AedDeploy.Engine;

/// <summary>The history of deploys, rollbacks and unlocks: one JSON line each in .aeddeploy/history.jsonl on the server.</summary>
public sealed class DeployHistory(DeploySession session, AppTarget target, IDeployLog log)
{
    private static readonly TimeSpan HistoryTimeout = TimeSpan.FromSeconds(30);

    public string HistoryPath => $"{target.StatePath}/history.jsonl";

    public async Task AppendAsync(DeploymentRecord record, CancellationToken cancellationToken)
    {
        var line = JsonSerializer.Serialize(record, ReleaseStore.JsonOptions);
        var result = await new RemoteRunner(session, log).RunAsync(
            """
            mkdir -p -- "$1" && printf '%s\n' "$3" >> "$2"
            """,
            cancellationToken, HistoryTimeout, [target.StatePath, HistoryPath, line]).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new AedDeployException("HistoryWriteFailed", FailureKind.InvalidOperation,
                $"Could not append to {HistoryPath} on {session.HostName}:\n{result.Tail()}", HistoryPath);
        }
    }

    /// <summary>The newest <paramref name="last"/> entries, oldest first.</summary>
    public async Task<IReadOnlyList<DeploymentRecord>> ReadAsync(int last, CancellationToken cancellationToken)
    {
        var result = await new RemoteRunner(session, log).RunAsync(
            """
            [ -f "$1" ] || exit 0
            tail -n "$2" -- "$1"
            """,
            cancellationToken, HistoryTimeout, [HistoryPath, last.ToString(System.Globalization.CultureInfo.InvariantCulture)], sensitiveOutput: true).ConfigureAwait(false);
        var records = new List<DeploymentRecord>();
        foreach (var line in result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            try
            {
                records.Add(JsonSerializer.Deserialize<DeploymentRecord>(line, ReleaseStore.JsonOptions)!);
            }
            catch (JsonException)
            {
                log.Warning($"Skipped a history line that is not a record: {line[..Math.Min(80, line.Length)]}");
            }
        }

        return records;
    }
}
