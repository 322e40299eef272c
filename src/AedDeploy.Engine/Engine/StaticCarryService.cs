using System.Globalization;

namespace AedDeploy.Engine;

/// <summary>What a static carry did: how many files it linked in, from which releases, in how long.</summary>
public sealed record StaticCarryResult(string ReleaseId, IReadOnlyList<string> Origins, int Files, int Sources, IReadOnlyList<string> Missing, TimeSpan Duration)
{
    public override string ToString() =>
        Origins.Count == 0
            ? "no earlier release in the retention window"
            : string.Create(CultureInfo.InvariantCulture, $"{Files} file(s) of {string.Join(", ", Origins)} linked in {Duration.TotalSeconds:0.00} s")
              + (Missing.Count > 0 ? $" ({string.Join(", ", Missing)} already pruned: carried from the releases that hold them)" : string.Empty);
}

/// <summary>
/// Skew protection for the Release layout: puts earlier releases' <c>.next/static</c> files into a release before its
/// workers start, as hard links (no data copied), so that tabs opened on an earlier version still load their hashed
/// chunks from the new workers. <c>next start</c> serves only the files that were there when it started (measured),
/// so this must happen before the boot test and the reload. A release keeps a list of what it holds and where each
/// file came from, so that files age out with the release they came from (carry-static.js).
/// </summary>
public sealed class StaticCarryService(DeploySession session, AppTarget target, IDeployLog log)
{
    private static readonly TimeSpan CarryTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The releases whose files a new release carries, newest first: the live release (what open tabs run now), then
    /// the verified releases before it, while each stopped serving less than <paramref name="maximumAge"/> ago (when
    /// the release after it went live), at most <paramref name="count"/> in all. Failed releases are left out: they
    /// never served past their health check (a rollback carries theirs into the restored release instead).
    /// </summary>
    public static IReadOnlyList<string> RetentionWindow(IReadOnlyList<ReleaseInfo> releases, string newReleaseId, int count, TimeSpan maximumAge, DateTimeOffset now)
    {
        if (count <= 0)
        {
            return [];
        }

        var earlier = releases.Where(r => r.Id != newReleaseId).ToList();
        var live = earlier.FirstOrDefault(r => r.IsLive);
        var servedBefore = earlier
            .Where(r => !r.IsLive && r.Status == ReleaseStatus.Verified)
            .OrderByDescending(r => r.VerifiedAt ?? r.CreatedAt ?? DateTimeOffset.MinValue)
            .ThenByDescending(r => r.Id, StringComparer.Ordinal);
        var window = new List<string>();
        // The live release stops serving now; each one before it stopped when the next one went live.
        var stoppedAt = now;
        foreach (var release in (live is null ? [] : new[] { live }).Concat(servedBefore))
        {
            if (window.Count == count || now - stoppedAt > maximumAge)
            {
                break;
            }

            window.Add(release.Id);
            stoppedAt = release.VerifiedAt ?? release.CreatedAt ?? now;
        }

        return window;
    }

    /// <summary>Carries into <paramref name="releaseId"/> the files of the releases in the retention window.</summary>
    public async Task<StaticCarryResult> CarryWindowAsync(string releaseId, int count, TimeSpan maximumAge, CancellationToken cancellationToken)
    {
        var releases = await new ReleaseStore(session, target, log).ListAsync(cancellationToken).ConfigureAwait(false);
        var window = RetentionWindow(releases, releaseId, count, maximumAge, DateTimeOffset.UtcNow);
        log.Verbose(window.Count == 0
            ? $"No earlier release is in the static retention window ({Describe(count, maximumAge)})."
            : $"Static retention window ({Describe(count, maximumAge)}): {string.Join(", ", window)}.");
        return await CarryAsync(releaseId, window, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Links into <paramref name="releaseId"/>'s <c>.next/static</c> the files that came from <paramref name="origins"/>
    /// (taken from those releases, or from releases that carry them), never replacing one of its own.
    /// </summary>
    public async Task<StaticCarryResult> CarryAsync(string releaseId, IReadOnlyList<string> origins, CancellationToken cancellationToken)
    {
        if (origins.Count == 0)
        {
            return new StaticCarryResult(releaseId, origins, 0, 0, [], TimeSpan.Zero);
        }

        var runner = new RemoteRunner(session, log);
        var result = await runner.RunScriptAsync(
            "carry-static.js", [target.ReleasesPath, Names.ValidateReleaseId(releaseId), .. origins.Select(Names.ValidateReleaseId)], cancellationToken, CarryTimeout)
            .ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new AedDeployException(
                "StaticCarryFailed", FailureKind.InvalidOperation,
                $"Linking the static files of {string.Join(", ", origins)} into release {releaseId} failed on {session.HostName} (exit {result.ExitStatus}):\n{result.Tail()}",
                releaseId);
        }

        return RemoteAnswer.Json(result, "carry-static.js", root => new StaticCarryResult(
            releaseId, origins, root.GetProperty("files").GetInt32(), root.GetProperty("sources").GetInt32(),
            root.GetProperty("missing").EnumerateArray().Select(m => m.GetString() ?? string.Empty).ToList(),
            TimeSpan.FromMilliseconds(root.GetProperty("ms").GetDouble())));
    }

    private static string Describe(int count, TimeSpan age) => string.Create(CultureInfo.InvariantCulture, $"{count} release(s), {age.TotalDays:0.#} day(s)");
}
