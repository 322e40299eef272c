using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace AedDeploy.Engine;

/// <summary>
/// The Release layout's state on the server: which release is live (the <c>current</c> symlink), which is
/// the rollback target, and a record per release. Every write is atomic (a temporary file, then rename).
/// </summary>
public sealed class ReleaseStore(DeploySession session, AppTarget target, IDeployLog log)
{
    private readonly RemoteRunner runner = new(session, log);

    private static readonly TimeSpan StoreTimeout = TimeSpan.FromMinutes(1);

    internal static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Every release, oldest first, with which one is live and which is the rollback target.</summary>
    public async Task<IReadOnlyList<ReleaseInfo>> ListAsync(CancellationToken cancellationToken)
    {
        var result = await runner.RunScriptAsync("list-releases.js", [target.AppPath], cancellationToken, StoreTimeout).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new AedDeployException(
                "ReleaseListFailed", FailureKind.InvalidOperation,
                $"Could not list the releases under {target.AppPath} on {runner.Shell.HostName}:\n{result.Tail()}", target.AppPath);
        }

        return RemoteAnswer.Json(result, "list-releases.js", root => ReadReleases(root));
    }

    private List<ReleaseInfo> ReadReleases(JsonElement root)
    {
        var live = root.GetProperty("live").GetString();
        var rollbackTarget = root.GetProperty("rollbackTarget").GetString();
        return root.GetProperty("releases").EnumerateArray().Select(release =>
        {
            var id = release.GetProperty("id").GetString()!;
            var record = release.GetProperty("record").ValueKind == JsonValueKind.Object
                ? release.GetProperty("record").Deserialize<ReleaseRecord>(JsonOptions)
                : null;
            return new ReleaseInfo(session, target)
            {
                Id = id,
                Path = $"{target.ReleasesPath}/{id}",
                Status = record?.Status ?? ReleaseStatus.Unknown,
                IsLive = id == live,
                IsRollbackTarget = id == rollbackTarget,
                Commit = release.GetProperty("commit").GetString() ?? string.Empty,
                Ref = record?.Ref,
                BuildId = release.GetProperty("buildId").GetString() ?? string.Empty,
                CreatedAt = record?.CreatedAt,
                VerifiedAt = record?.VerifiedAt,
                Reason = record?.Reason,
            };
        }).ToList();
    }

    /// <summary>The id of the live release, or null when <c>current</c> does not point into releases/.</summary>
    public async Task<string?> GetLiveIdAsync(CancellationToken cancellationToken)
    {
        var result = await runner.RunAsync("readlink -- \"$1/current\" || true", cancellationToken, StoreTimeout, [target.AppPath]).ConfigureAwait(false);
        var link = result.Output.Trim();
        if (link.Length == 0)
        {
            return null;
        }

        var id = link.TrimEnd('/').Split('/')[^1];
        return link.TrimEnd('/') == $"{target.ReleasesPath}/{id}" || link.TrimEnd('/') == $"releases/{id}" ? id : null;
    }

    /// <summary>A new release id: the UTC time, so that ids sort by age.</summary>
    public static string NewReleaseId(DateTimeOffset now) => now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);

    public Task WriteRecordAsync(ReleaseRecord record, CancellationToken cancellationToken) =>
        runner.RunCheckedAsync(
            """
            mkdir -p -- "$1/releases" && printf '%s\n' "$3" > "$1/releases/$2.json.tmp" && mv -f -- "$1/releases/$2.json.tmp" "$1/releases/$2.json"
            """,
            "ReleaseRecordWriteFailed", $"Writing the record of release {record.Id}", cancellationToken, StoreTimeout,
            [target.StatePath, Names.ValidateReleaseId(record.Id), JsonSerializer.Serialize(record, JsonOptions)]);

    public Task SetRollbackTargetAsync(string releaseId, CancellationToken cancellationToken) =>
        runner.RunCheckedAsync(
            """
            mkdir -p -- "$1" && printf '%s\n' "$2" > "$1/rollback-target.tmp" && mv -f -- "$1/rollback-target.tmp" "$1/rollback-target"
            """,
            "RollbackTargetWriteFailed", $"Recording release {releaseId} as the rollback target", cancellationToken, StoreTimeout,
            [target.StatePath, Names.ValidateReleaseId(releaseId)]);

    /// <summary>Deletes releases and their records (never called for the live release or the rollback target).</summary>
    public Task RemoveAsync(IReadOnlyList<string> releaseIds, CancellationToken cancellationToken) =>
        runner.RunCheckedAsync(
            """
            root=$1 state=$2; shift 2
            for id in "$@"; do
              [ "$(readlink -f -- "$root/current")" = "$(readlink -f -- "$root/releases/$id")" ] && { echo "release $id is live" >&2; exit 1; }
              rm -rf -- "${root:?}/releases/${id:?}" "$state/releases/$id.json"
            done
            """,
            "ReleasePruneFailed", $"Removing old releases ({string.Join(", ", releaseIds)})", cancellationToken, StoreTimeout,
            [target.AppPath, target.StatePath, .. releaseIds.Select(Names.ValidateReleaseId)]);

    /// <summary>Points <c>current</c> at a release in one rename, so that no request ever sees it missing.</summary>
    public Task SwitchAsync(string releaseId, CancellationToken cancellationToken) =>
        runner.RunCheckedAsync(
            """
            [ -d "$1/releases/$2" ] || { echo "release $2 does not exist" >&2; exit 1; }
            ln -sfn -- "$1/releases/$2" "$1/current.aeddeploy-next" && mv -fT -- "$1/current.aeddeploy-next" "$1/current"
            """,
            "ReleaseSwitchFailed", $"Pointing current at release {releaseId}", cancellationToken, StoreTimeout,
            [target.AppPath, Names.ValidateReleaseId(releaseId)]);
}
