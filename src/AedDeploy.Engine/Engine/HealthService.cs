using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Polly;
using Polly.Retry;

namespace AedDeploy.Engine;

/// <summary>What Test-AppHealth checks.</summary>
public sealed class HealthRequest
{
    public IReadOnlyList<Uri> Urls { get; init; } = [];

    public int ExpectedStatus { get; init; } = 200;

    /// <summary>A regular expression the body must match.</summary>
    public string? ContentPattern { get; init; }

    /// <summary>
    /// The build id the answers must come from. An answer with an X-Build-Id header must carry this one; one
    /// without must have it in its body, else it proves only its status (a warning), unless <see cref="RequireBuildId"/>.
    /// </summary>
    public string? ExpectedBuildId { get; init; }

    /// <summary>An answer that shows no build id at all fails, instead of proving only its status.</summary>
    public bool RequireBuildId { get; init; }

    public ProbeSource Source { get; init; } = ProbeSource.Server;

    /// <summary>Retries after a failed probe, the seed's 5 by default.</summary>
    public int MaximumRetryCount { get; init; } = 5;

    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How many answers in a row must pass.</summary>
    public int RequiredSuccesses { get; init; } = 3;

    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long PM2 must show no restart of any instance; the check ends as soon as this has passed with probes good.</summary>
    public TimeSpan StabilizationWindow { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Whether PM2 is checked at all (off for an app that PM2 does not run).</summary>
    public bool CheckPm2 { get; init; } = true;

    /// <summary>The same check, also requiring answers from <paramref name="buildId"/>.</summary>
    public HealthRequest WithBuildId(string buildId) => new()
    {
        Urls = Urls, ExpectedStatus = ExpectedStatus, ContentPattern = ContentPattern, ExpectedBuildId = buildId, RequireBuildId = RequireBuildId, Source = Source,
        MaximumRetryCount = MaximumRetryCount, RetryInterval = RetryInterval, RequiredSuccesses = RequiredSuccesses,
        ProbeTimeout = ProbeTimeout, StabilizationWindow = StabilizationWindow, CheckPm2 = CheckPm2,
    };

    /// <summary>
    /// The check the old version must pass after a rollback: the same URLs and status, none of the new version's
    /// content, and answers from the old build <paramref name="buildId"/> (proven as the new one would have been).
    /// </summary>
    public HealthRequest ForRollback(string? buildId) => new()
    {
        Urls = Urls, ExpectedStatus = ExpectedStatus, ExpectedBuildId = buildId, RequireBuildId = RequireBuildId, Source = Source,
        MaximumRetryCount = MaximumRetryCount, RetryInterval = RetryInterval, RequiredSuccesses = RequiredSuccesses,
        ProbeTimeout = ProbeTimeout, StabilizationWindow = StabilizationWindow, CheckPm2 = CheckPm2,
    };
}

/// <summary>
/// Proves the app healthy (Test-AppHealth): HTTP probes with bounded retries until N answers in a row pass,
/// and PM2 showing every instance online without a restart for a stabilisation window. It ends as soon as
/// both hold, instead of the hand-written process's blind sleep.
/// </summary>
public sealed class HealthService(DeploySession session, AppTarget target, IDeployLog log)
{
    private const string Activity = "Test-AppHealth";
    private static readonly TimeSpan BetweenSuccesses = TimeSpan.FromMilliseconds(250);

    public async Task<HealthReport> CheckAsync(HealthRequest request, CancellationToken cancellationToken)
    {
        if (request.Urls.Count == 0 && !request.CheckPm2)
        {
            throw new AedDeployException("NothingToCheck", FailureKind.InvalidArgument, "Give at least one -Url, or leave the PM2 checks on.", target.AppName);
        }

        var stopwatch = Stopwatch.StartNew();
        var runner = new RemoteRunner(session, log);
        var pm2 = new Pm2Client(runner, target);
        var problems = new List<string>();
        IReadOnlyList<Pm2Process> first = [];
        if (request.CheckPm2)
        {
            first = await pm2.ListRequiredAsync(cancellationToken).ConfigureAwait(false);
        }

        using var http = request.Source == ProbeSource.Client ? new HttpClient { Timeout = Timeout.InfiniteTimeSpan } : null;
        var probes = new List<ProbeResult>();
        foreach (var (url, index) in request.Urls.Select((u, i) => (u, i)))
        {
            log.Progress(Activity, $"Probing {url}", 10 + (70 * index / Math.Max(1, request.Urls.Count)));
            var probe = await ProbeUntilProvenAsync(runner, http, url, request, cancellationToken).ConfigureAwait(false);
            probes.Add(probe);
            if (!probe.Passed)
            {
                problems.Add($"{url} failed after {probe.Attempts} attempt(s): {probe.Error}");
            }
        }

        IReadOnlyList<Pm2Process> last = first;
        if (request.CheckPm2)
        {
            var remaining = request.StabilizationWindow - stopwatch.Elapsed;
            if (remaining > TimeSpan.Zero)
            {
                log.Progress(Activity, $"Watching PM2 for {remaining.TotalSeconds:0.#} s more", 85);
                await Task.Delay(remaining, cancellationToken).ConfigureAwait(false);
            }

            last = await pm2.ListRequiredAsync(cancellationToken).ConfigureAwait(false);
            problems.AddRange(CheckStability(first, last));
        }

        var proof = Weakest(probes.Select(p => p.Proof));
        if (request.ExpectedBuildId is { Length: > 0 } && proof == HealthProof.Status && problems.Count == 0)
        {
            log.Warning(probes.Count == 0
                ? $"No URL was probed: health does not prove that build {request.ExpectedBuildId} answers, only that PM2 keeps {target.AppName} up."
                : $"{target.AppName} gives no build id (no X-Build-Id header, and build {request.ExpectedBuildId} is not in the answer): health proves the HTTP status only, "
                  + $"not that build {request.ExpectedBuildId} answers. Load AedDeploy's ready preload (node_args, see about_AedDeploy) to add the header.");
        }

        log.Progress(Activity, problems.Count == 0 ? "Healthy" : "Unhealthy", 100);
        return new HealthReport(session, target)
        {
            Probes = probes,
            Instances = last,
            Problems = problems,
            Duration = stopwatch.Elapsed,
            Proof = proof,
        };
    }

    /// <summary>
    /// Ties one answer to <paramref name="expected"/>: the X-Build-Id header, which the ready preload sets to the
    /// build the answering worker loaded, decides when present (an old worker's answer fails even if its body
    /// names the new id); otherwise the body must contain the id, or the answer proves its status only.
    /// </summary>
    internal static (HealthProof Proof, string? Error) CheckBuildId(string? expected, bool required, string header, string body)
    {
        if (string.IsNullOrEmpty(expected))
        {
            return (HealthProof.Status, null);
        }

        if (header.Length > 0)
        {
            return header == expected ? (HealthProof.BuildIdHeader, null) : (HealthProof.Status, $"the answer comes from build {header} (X-Build-Id), not {expected}");
        }

        if (body.Contains(expected, StringComparison.Ordinal))
        {
            return (HealthProof.BuildIdBody, null);
        }

        return (HealthProof.Status, required ? $"the answer does not show build {expected} (no X-Build-Id header, not in the body)" : null);
    }

    /// <summary>How a proof reads in a phase detail.</summary>
    public static string Describe(HealthProof proof) => proof switch
    {
        HealthProof.BuildIdHeader => "build id from header",
        HealthProof.BuildIdBody => "build id from body",
        _ => "status only, no build id",
    };

    /// <summary>The weakest proof: health is only as proven as its least proven answer.</summary>
    internal static HealthProof Weakest(IEnumerable<HealthProof> proofs) =>
        proofs.DefaultIfEmpty(HealthProof.Status).MinBy(Strength);

    private static int Strength(HealthProof proof) => proof switch
    {
        HealthProof.BuildIdHeader => 2,
        HealthProof.BuildIdBody => 1,
        _ => 0,
    };

    /// <summary>Every instance online, and none restarted between the two looks.</summary>
    internal static IEnumerable<string> CheckStability(IReadOnlyList<Pm2Process> first, IReadOnlyList<Pm2Process> last)
    {
        foreach (var process in last.Where(p => !p.IsOnline))
        {
            yield return $"PM2 instance {process.PmId} is {process.Status}";
        }

        foreach (var process in last)
        {
            var earlier = first.FirstOrDefault(p => p.PmId == process.PmId);
            if (earlier is not null && (earlier.RestartTime != process.RestartTime || earlier.Pid != process.Pid))
            {
                yield return $"PM2 instance {process.PmId} restarted while it was watched (restarts {earlier.RestartTime} -> {process.RestartTime})";
            }
        }

        if (last.Count < first.Count)
        {
            yield return $"{first.Count - last.Count} PM2 instance(s) disappeared while watched";
        }
    }

    /// <summary>Probes until <see cref="HealthRequest.RequiredSuccesses"/> answers in a row pass; a failed answer costs one retry.</summary>
    private async Task<ProbeResult> ProbeUntilProvenAsync(RemoteRunner runner, HttpClient? http, Uri url, HealthRequest request, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var attempts = 0;
        var consecutive = 0;
        var proofs = new List<HealthProof>();
        var pipeline = new ResiliencePipelineBuilder<ProbeAnswer>();
        if (request.MaximumRetryCount > 0)
        {
            pipeline.AddRetry(new RetryStrategyOptions<ProbeAnswer>
            {
                ShouldHandle = new PredicateBuilder<ProbeAnswer>().HandleResult(answer => !answer.Passed),
                MaxRetryAttempts = request.MaximumRetryCount,
                Delay = request.RetryInterval,
                BackoffType = DelayBackoffType.Constant,
                OnRetry = args =>
                {
                    log.Verbose($"{url}: {args.Outcome.Result.Error}; retry {args.AttemptNumber + 1} of {request.MaximumRetryCount} in {args.RetryDelay.TotalSeconds:0.#} s.");
                    return default;
                },
            });
        }

        var outcome = await pipeline.Build().ExecuteAsync(
            async token =>
            {
                consecutive = 0;
                proofs.Clear();
                while (true)
                {
                    attempts++;
                    var answer = await ProbeOnceAsync(runner, http, url, request, token).ConfigureAwait(false);
                    if (!answer.Passed)
                    {
                        return answer;
                    }

                    proofs.Add(answer.Proof);

                    if (++consecutive >= request.RequiredSuccesses)
                    {
                        return answer;
                    }

                    await Task.Delay(BetweenSuccesses, token).ConfigureAwait(false);
                }
            },
            cancellationToken).ConfigureAwait(false);

        return new ProbeResult
        {
            Url = url.ToString(),
            Passed = outcome.Passed,
            StatusCode = outcome.Status,
            Attempts = attempts,
            ConsecutiveSuccesses = consecutive,
            Elapsed = stopwatch.Elapsed,
            Error = outcome.Error,
            Proof = outcome.Passed ? Weakest(proofs) : HealthProof.Status,
        };
    }

    private static async Task<ProbeAnswer> ProbeOnceAsync(RemoteRunner runner, HttpClient? http, Uri url, HealthRequest request, CancellationToken cancellationToken)
    {
        var (status, buildIdHeader, body, error) = http is null
            ? await ProbeFromServerAsync(runner, url, request.ProbeTimeout, cancellationToken).ConfigureAwait(false)
            : await ProbeFromClientAsync(http, url, request.ProbeTimeout, cancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            return new ProbeAnswer(false, status, error, HealthProof.Status);
        }

        if (status != request.ExpectedStatus)
        {
            return new ProbeAnswer(false, status, $"HTTP {status}, expected {request.ExpectedStatus}", HealthProof.Status);
        }

        if (request.ContentPattern is not null && !Regex.IsMatch(body, request.ContentPattern, RegexOptions.None, TimeSpan.FromSeconds(1)))
        {
            return new ProbeAnswer(false, status, $"the answer does not match '{request.ContentPattern}'", HealthProof.Status);
        }

        var (proof, buildIdError) = CheckBuildId(request.ExpectedBuildId, request.RequireBuildId, buildIdHeader, body);
        return new ProbeAnswer(buildIdError is null, status, buildIdError, proof);
    }

    private static async Task<(int Status, string BuildIdHeader, string Body, string? Error)> ProbeFromServerAsync(
        RemoteRunner runner, Uri url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // Line 1: status and curl's exit code; line 2: any X-Build-Id header; line 3: curl's error; then the body.
        var result = await runner.RunAsync(
            """
            t=$(mktemp -d) || exit 1
            code=$(curl -sS -o "$t/body" -D "$t/headers" -w '%{http_code}' --max-time "$2" -H 'Cache-Control: no-cache' -- "$1" 2>"$t/error")
            printf '%s %s\n' "${code:-000}" "$?"
            grep -i '^x-build-id:' "$t/headers" 2>/dev/null | head -n 1 | cut -d: -f2- | tr -d ' \r'; echo
            tr '\n' ' ' < "$t/error"; echo
            head -c 65536 "$t/body" 2>/dev/null
            rm -rf -- "$t"
            """,
            cancellationToken, timeout + TimeSpan.FromSeconds(15), [url.ToString(), timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)], sensitiveOutput: true)
            .ConfigureAwait(false);
        var lines = result.Output.Split('\n', 4);
        if (!result.Succeeded || lines.Length < 3)
        {
            return (0, string.Empty, string.Empty, $"could not probe from the server (exit {result.ExitStatus}): {result.Tail(3)}");
        }

        var head = lines[0].Split(' ');
        var status = int.TryParse(head[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var code) ? code : 0;
        var curlExit = head.Length > 1 ? head[1] : "?";
        var body = lines.Length > 3 ? lines[3] : string.Empty;
        var error = curlExit switch
        {
            "0" => null,
            "28" => $"no answer within {timeout.TotalSeconds:0.#} s",
            "127" => "curl is not installed on the server (install it, or probe with -Source Client)",
            _ => $"curl failed ({curlExit}): {lines[2].Trim()}",
        };
        return (status, lines[1].Trim(), body, error);
    }

    private static async Task<(int Status, string BuildIdHeader, string Body, string? Error)> ProbeFromClientAsync(
        HttpClient http, Uri url, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            using var message = new HttpRequestMessage(HttpMethod.Get, url);
            message.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { NoCache = true };
            using var response = await http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(deadline.Token).ConfigureAwait(false);
            var buildId = response.Headers.TryGetValues("X-Build-Id", out var values) ? values.First() : string.Empty;
            return ((int)response.StatusCode, buildId, body.Length > 65536 ? body[..65536] : body, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (0, string.Empty, string.Empty, $"no answer within {timeout.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException ex)
        {
            return (0, string.Empty, string.Empty, ex.Message);
        }
    }

    private readonly record struct ProbeAnswer(bool Passed, int Status, string? Error, HealthProof Proof);
}
