#Requires -Version 7.4
# A load prober for deploy rehearsals and benchmarks: one GET per target every interval, sent in the
# background while a deploy runs, each answer kept as a sample (when it was sent, how long it took,
# status or error, and which version answered). Bounded: it stops itself after MaxDurationSec.
#
# What counts as a failure: anything that is not 2xx or 3xx, a connection error, or no complete answer
# within the request timeout (2 s). A 404 is a failure too: every target is a URL the live version
# serves, so a 404 means a half-built or wrong build answered.
#
# How requests are sent, and why (this decides what a failure measurement is worth):
# - The load is open-loop, like real users: a request is sent every interval whether or not the
#   previous one has answered, so a server that hangs is charged for every interval it hangs, not for
#   one slow request.
# - Straight to the app (its PM2 port): a NEW TCP connection per request (Connection: close, no pooled
#   connection kept). The PM2 cluster master hands each new connection to the next worker, so the
#   samples cover every worker, old and new, during a reload; and .NET never retries a request on a
#   reused connection that the server closed, which would hide a worker killed mid-request.
# - Through nginx: a kept-alive connection per target (up to 6, as a browser opens), reused for as long
#   as nginx keeps it. That is how browsers talk to nginx, so its own keep-alive connections to the
#   app (which keep reaching an old worker until PM2 kills it) and its cache are measured as users
#   see them. .NET, like a browser, sends a request again once when a kept-alive connection turns out
#   closed before any answer: what a browser user would see, not a hidden failure.
#
# The 'never requested before' route: a route module, once loaded by a worker, stays in its memory, so
# a route is only 'never requested' for each worker's first request to it; a fresh query string or path
# segment does not help (the route module is the same, and a static route has no segments). Such
# targets are therefore given as -DeferredTargets: not requested at all until the caller enables them
# (Enable-AedProbeTarget) at the moment the deploy is most exposed (Rehearsal.Tests.ps1 and the
# benchmark enable them once the build command has run for 2 s, when an in-place `next build` has
# wiped .next). From then on they are probed every interval like the others, so a worker that starts
# later (a reload) gets its own first request to the route while it is probed.
Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

if (-not ('AedDeployRig.Probe.Prober' -as [type])) {
    Add-Type -TypeDefinition @'
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net.Http;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;

namespace AedDeployRig.Probe
{
    /// <summary>One answer (or its absence).</summary>
    public sealed class ProbeSample
    {
        public string Target { get; init; } = "";
        /// <summary>When the request was sent, in ms since the probe started.</summary>
        public double AtMs { get; init; }
        public double DurationMs { get; set; }
        /// <summary>HTTP status, 0 when there was no answer.</summary>
        public int Status { get; set; }
        /// <summary>Timeout, ConnectionError (with the socket error) or another failure; null when an answer came.</summary>
        public string Error { get; set; }
        public bool Failed { get; set; }
        /// <summary>APP_VERSION from /api/health's JSON, its X-App-Version header, or a page's id="version".</summary>
        public string Version { get; set; }
        public string BuildId { get; set; }
        public int? Pid { get; set; }
        /// <summary>nginx's X-Cache-Status (HIT, MISS, ...), when it answered.</summary>
        public string Cache { get; set; }
    }

    public sealed class ProbeTarget
    {
        public string Name { get; init; } = "";
        public Uri Uri { get; init; }
        /// <summary>Kept-alive connections (through nginx) or a new connection per request (straight to the app).</summary>
        public bool KeepAlive { get; init; }
        public bool Deferred { get; init; }
        internal volatile bool Enabled;
        public double? EnabledAtMs { get; internal set; }
        internal HttpClient Client;
        internal int InFlight;
        public int Skipped;
    }

    /// <summary>Counts for one target over a window of the run.</summary>
    public sealed class ProbeTargetSummary
    {
        public string Target { get; init; } = "";
        public int Sent { get; init; }
        public int Failed { get; init; }
        public double LongestFailureWindowMs { get; init; }
        public double? FirstFailureAtMs { get; init; }
        public double? LastFailureAtMs { get; init; }
        /// <summary>The distinct errors and statuses of the failures, with their counts ("500 x3, Timeout x1").</summary>
        public string Failures { get; init; } = "";
        public string Versions { get; init; } = "";
        public double? EnabledAtMs { get; init; }
    }

    public sealed class Prober : IDisposable
    {
        private const int MaxInFlightPerTarget = 64;
        private static readonly Regex PageVersion = new Regex("id=\"version\"[^>]*>([^<]*)<", RegexOptions.Compiled);

        private readonly List<ProbeTarget> targets;
        private readonly TimeSpan interval;
        private readonly TimeSpan requestTimeout;
        private readonly CancellationTokenSource stop;
        private readonly ConcurrentQueue<ProbeSample> samples = new ConcurrentQueue<ProbeSample>();
        private readonly Stopwatch clock = new Stopwatch();
        private readonly List<Task> loops = new List<Task>();
        private readonly List<HttpMessageHandler> handlers = new List<HttpMessageHandler>();
        // Guards targets, loops and handlers: Add may run while the loops run.
        private readonly object gate = new object();
        private readonly SocketsHttpHandler fresh;
        private int inFlight;

        public Prober(IEnumerable<ProbeTarget> targets, TimeSpan interval, TimeSpan requestTimeout, TimeSpan maxDuration)
        {
            this.targets = targets.ToList();
            this.interval = interval;
            this.requestTimeout = requestTimeout;
            stop = new CancellationTokenSource(maxDuration);
            // Straight to the app: every request on a connection of its own, closed after the answer.
            fresh = NewHandler(TimeSpan.Zero, 1000);
            foreach (var target in this.targets)
            {
                SetClient(target);
                target.Enabled = !target.Deferred;
            }
        }

        private void SetClient(ProbeTarget target)
        {
            // Through nginx: kept-alive connections, at most 6 per target, as a browser keeps them.
            var handler = target.KeepAlive ? NewHandler(Timeout.InfiniteTimeSpan, 6) : fresh;
            target.Client = new HttpClient(handler, false) { Timeout = Timeout.InfiniteTimeSpan };
        }

        private SocketsHttpHandler NewHandler(TimeSpan lifetime, int connections)
        {
            var handler = new SocketsHttpHandler
            {
                UseProxy = false,
                AllowAutoRedirect = false,
                UseCookies = false,
                AutomaticDecompression = System.Net.DecompressionMethods.None,
                PooledConnectionLifetime = lifetime,
                PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
                MaxConnectionsPerServer = connections,
                ConnectTimeout = requestTimeout,
            };
            handlers.Add(handler);
            return handler;
        }

        public DateTimeOffset StartedAt { get; private set; }
        public double ElapsedMs => clock.Elapsed.TotalMilliseconds;
        public bool IsRunning => loops.Count > 0 && !stop.IsCancellationRequested;
        public IReadOnlyList<ProbeTarget> Targets { get { lock (gate) return targets.ToArray(); } }
        public double IntervalMs => interval.TotalMilliseconds;

        public void Start()
        {
            StartedAt = DateTimeOffset.UtcNow;
            clock.Start();
            lock (gate)
            {
                foreach (var target in targets)
                {
                    if (target.Enabled) target.EnabledAtMs = 0;
                    loops.Add(Task.Run(() => LoopAsync(target)));
                }
            }
        }

        /// <summary>
        /// Starts probing a target that was not known when the probe started (a chunk of a version built while the probe
        /// runs), from now on, every interval like the others.
        /// </summary>
        public ProbeTarget Add(string name, Uri uri, bool keepAlive)
        {
            var target = new ProbeTarget { Name = name, Uri = uri, KeepAlive = keepAlive };
            lock (gate)
            {
                if (stop.IsCancellationRequested) throw new InvalidOperationException("The probe has stopped");
                if (targets.Any(t => t.Name == name)) throw new ArgumentException("There is a probe target named " + name + " already");
                SetClient(target);
                target.EnabledAtMs = ElapsedMs;
                target.Enabled = true;
                targets.Add(target);
                loops.Add(Task.Run(() => LoopAsync(target)));
            }
            return target;
        }

        /// <summary>Starts sending to a deferred target; false when it was already on.</summary>
        public bool Enable(string name)
        {
            ProbeTarget target;
            lock (gate) target = targets.FirstOrDefault(t => t.Name == name) ?? throw new ArgumentException("No probe target named " + name);
            if (target.Enabled) return false;
            target.EnabledAtMs = ElapsedMs;
            target.Enabled = true;
            return true;
        }

        /// <summary>Stops sending and waits for the answers still on their way (at most the request timeout).</summary>
        public void Stop()
        {
            Task[] running;
            lock (gate)
            {
                stop.Cancel();
                running = loops.ToArray();
            }
            try { Task.WaitAll(running); } catch (AggregateException) { }
            var deadline = DateTime.UtcNow + requestTimeout + TimeSpan.FromSeconds(1);
            while (Volatile.Read(ref inFlight) > 0 && DateTime.UtcNow < deadline) Thread.Sleep(20);
            clock.Stop();
        }

        public ProbeSample[] Samples() => samples.ToArray().OrderBy(s => s.AtMs).ToArray();

        private async Task LoopAsync(ProbeTarget target)
        {
            using var timer = new PeriodicTimer(interval);
            try
            {
                do
                {
                    if (!target.Enabled) continue;
                    if (Volatile.Read(ref target.InFlight) >= MaxInFlightPerTarget)
                    {
                        Interlocked.Increment(ref target.Skipped);
                        continue;
                    }
                    Interlocked.Increment(ref target.InFlight);
                    Interlocked.Increment(ref inFlight);
                    _ = SendAsync(target);
                }
                while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false));
            }
            catch (OperationCanceledException) { }
        }

        private async Task SendAsync(ProbeTarget target)
        {
            var sample = new ProbeSample { Target = target.Name, AtMs = clock.Elapsed.TotalMilliseconds };
            try
            {
                // Answers in flight when the probe stops still finish: only the request timeout ends a request.
                using var timeout = new CancellationTokenSource(requestTimeout);
                using var request = new HttpRequestMessage(HttpMethod.Get, target.Uri);
                if (!target.KeepAlive) request.Headers.ConnectionClose = true;
                try
                {
                    using var response = await target.Client.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
                    sample.Status = (int)response.StatusCode;
                    sample.Cache = Header(response, "X-Cache-Status");
                    sample.Version = Header(response, "X-App-Version");
                    var type = response.Content.Headers.ContentType?.MediaType ?? "";
                    if (type.Contains("json") || type.Contains("html"))
                    {
                        var body = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
                        ReadVersion(sample, type, body);
                    }
                    else
                    {
                        await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
                    }
                    sample.Failed = sample.Status < 200 || sample.Status >= 400;
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested)
                {
                    sample.Error = "Timeout";
                    sample.Failed = true;
                }
                catch (HttpRequestException ex)
                {
                    var socket = ex.InnerException as System.Net.Sockets.SocketException ?? ex.InnerException?.InnerException as System.Net.Sockets.SocketException;
                    sample.Error = "ConnectionError:" + (socket != null ? socket.SocketErrorCode.ToString() : ex.HttpRequestError.ToString());
                    sample.Failed = true;
                }
                catch (Exception ex)
                {
                    sample.Error = ex.GetType().Name + ":" + ex.Message.Split('\n')[0];
                    sample.Failed = true;
                }
            }
            finally
            {
                sample.DurationMs = clock.Elapsed.TotalMilliseconds - sample.AtMs;
                samples.Enqueue(sample);
                Interlocked.Decrement(ref target.InFlight);
                Interlocked.Decrement(ref inFlight);
            }
        }

        private static string Header(HttpResponseMessage response, string name) =>
            response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

        private static void ReadVersion(ProbeSample sample, string type, string body)
        {
            if (type.Contains("json"))
            {
                try
                {
                    using var json = JsonDocument.Parse(body);
                    var root = json.RootElement;
                    if (root.ValueKind != JsonValueKind.Object) return;
                    if (root.TryGetProperty("version", out var v) && v.ValueKind == JsonValueKind.String) sample.Version = v.GetString();
                    if (root.TryGetProperty("buildId", out var b) && b.ValueKind == JsonValueKind.String) sample.BuildId = b.GetString();
                    if (root.TryGetProperty("pid", out var p) && p.ValueKind == JsonValueKind.Number) sample.Pid = p.GetInt32();
                }
                catch (JsonException) { }
                return;
            }
            var match = PageVersion.Match(body);
            if (match.Success) sample.Version = match.Groups[1].Value;
        }

        /// <summary>
        /// Per-target counts for the samples sent in [fromMs, toMs). A failure window is a run of failed samples
        /// of one target in a row: from the first one's sending to the sending of the next answer that passed
        /// (or the last failure's end when none followed), so its resolution is the interval.
        /// </summary>
        public static ProbeTargetSummary[] Summarize(IEnumerable<ProbeSample> all, IEnumerable<ProbeTarget> targets, double fromMs, double toMs)
        {
            var result = new List<ProbeTargetSummary>();
            foreach (var target in targets)
            {
                var list = all.Where(s => s.Target == target.Name).OrderBy(s => s.AtMs).ToList();
                var inWindow = list.Where(s => s.AtMs >= fromMs && s.AtMs < toMs).ToList();
                var failed = inWindow.Where(s => s.Failed).ToList();
                double longest = 0;
                double? runStart = null;
                double runEnd = 0;
                foreach (var s in list)
                {
                    if (s.Failed)
                    {
                        runStart ??= s.AtMs;
                        runEnd = s.AtMs + s.DurationMs;
                    }
                    else if (runStart is double began)
                    {
                        if (Overlaps(began, s.AtMs, fromMs, toMs)) longest = Math.Max(longest, s.AtMs - began);
                        runStart = null;
                    }
                }
                if (runStart is double open && Overlaps(open, runEnd, fromMs, toMs)) longest = Math.Max(longest, runEnd - open);
                result.Add(new ProbeTargetSummary
                {
                    Target = target.Name,
                    Sent = inWindow.Count,
                    Failed = failed.Count,
                    LongestFailureWindowMs = Math.Round(longest),
                    FirstFailureAtMs = failed.Count > 0 ? Math.Round(failed[0].AtMs) : null,
                    LastFailureAtMs = failed.Count > 0 ? Math.Round(failed[failed.Count - 1].AtMs) : null,
                    Failures = string.Join(", ", failed.GroupBy(s => s.Error ?? s.Status.ToString()).OrderByDescending(g => g.Count()).Select(g => g.Key + " x" + g.Count())),
                    Versions = string.Join(", ", inWindow.Where(s => s.Version != null).GroupBy(s => s.Version).Select(g => g.Key + " x" + g.Count())),
                    EnabledAtMs = target.EnabledAtMs.HasValue ? Math.Round(target.EnabledAtMs.Value) : null,
                });
            }
            return result.ToArray();
        }

        private static bool Overlaps(double start, double end, double fromMs, double toMs) => start < toMs && end >= fromMs;

        public void Dispose()
        {
            stop.Cancel();
            foreach (var target in targets) target.Client?.Dispose();
            foreach (var handler in handlers) handler.Dispose();
            stop.Dispose();
        }
    }
}
'@
}

function Start-AedProbe {
    <#
    .SYNOPSIS
    Starts sending one GET per target every -IntervalMs in the background; returns the probe handle.
    .PARAMETER Targets
    Name → URL, probed from the start. A name starting with 'nginx:' (or -KeepAliveTargets) is sent over
    kept-alive connections as a browser does; every other target gets a new connection per request.
    .PARAMETER DeferredTargets
    Name → URL, not requested until Enable-AedProbeTarget (routes that must be 'never requested before').
    .PARAMETER MaxDurationSec
    The probe stops itself after this long, whatever happens to its caller.
    .PARAMETER AllowRemote
    Allows URLs that are not loopback (a real staging server named in a rehearsal configuration).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [System.Collections.IDictionary] $Targets,
        [System.Collections.IDictionary] $DeferredTargets = @{},
        [ValidateRange(10, 10000)] [int] $IntervalMs = 100,
        [ValidateRange(100, 30000)] [int] $RequestTimeoutMs = 2000,
        [ValidateRange(1, 3600)] [int] $MaxDurationSec = 600,
        [string[]] $KeepAliveTargets = @(),
        [switch] $AllowRemote
    )
    $list = [Collections.Generic.List[AedDeployRig.Probe.ProbeTarget]]::new()
    foreach ($set in @(@{ Map = $Targets; Deferred = $false }, @{ Map = $DeferredTargets; Deferred = $true })) {
        foreach ($entry in $set.Map.GetEnumerator()) {
            $uri = [uri]$entry.Value
            if (-not $uri.IsAbsoluteUri -or $uri.Scheme -notin 'http', 'https') { throw "Probe target '$($entry.Key)': '$($entry.Value)' is not an http(s) URL" }
            if (-not $uri.IsLoopback -and -not $AllowRemote) { throw "Probe target '$($entry.Key)': the prober only sends to loopback addresses unless -AllowRemote, not '$uri'" }
            $list.Add([AedDeployRig.Probe.ProbeTarget]@{
                    Name      = [string]$entry.Key
                    Uri       = $uri
                    KeepAlive = ([string]$entry.Key).StartsWith('nginx:') -or $entry.Key -in $KeepAliveTargets
                    Deferred  = $set.Deferred
                })
        }
    }
    if ($list.Count -eq 0) { throw 'Give at least one probe target' }
    $prober = [AedDeployRig.Probe.Prober]::new($list, [TimeSpan]::FromMilliseconds($IntervalMs), [TimeSpan]::FromMilliseconds($RequestTimeoutMs),
        [TimeSpan]::FromSeconds($MaxDurationSec))
    $prober.Start()
    $prober
}

function Enable-AedProbeTarget {
    <#
    .SYNOPSIS
    Starts probing deferred targets (all of them unless -Name); returns the offset in ms it happened at.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [AedDeployRig.Probe.Prober] $Probe, [string[]] $Name)
    $names = if ($Name) { $Name } else { $Probe.Targets | Where-Object Deferred | ForEach-Object Name }
    foreach ($n in $names) { $null = $Probe.Enable($n) }
    [math]::Round($Probe.ElapsedMs)
}

function Add-AedProbeTarget {
    <#
    .SYNOPSIS
    Adds a target to a running probe, probed from now on every interval like the others (a chunk of a version that
    was built while the probe ran); returns the offset in ms it started at. A name starting with 'nginx:' or
    -KeepAlive is sent over kept-alive connections, as Start-AedProbe does.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [AedDeployRig.Probe.Prober] $Probe,
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [uri] $Uri,
        [switch] $KeepAlive,
        [switch] $AllowRemote
    )
    if (-not $Uri.IsAbsoluteUri -or $Uri.Scheme -notin 'http', 'https') { throw "Probe target '$Name': '$Uri' is not an http(s) URL" }
    if (-not $Uri.IsLoopback -and -not $AllowRemote) { throw "Probe target '$Name': the prober only sends to loopback addresses unless -AllowRemote, not '$Uri'" }
    $target = $Probe.Add($Name, $Uri, ($Name.StartsWith('nginx:') -or $KeepAlive))
    [math]::Round($target.EnabledAtMs)
}

function Get-AedProbeSummary {
    <#
    .SYNOPSIS
    Per-target Sent, Failed, LongestFailureWindowMs, FirstFailureAtMs, LastFailureAtMs, Failures and
    Versions for the samples sent in [FromMs, ToMs) (offsets from the probe's start), e.g. one phase.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] $Result,
        [double] $FromMs = 0,
        [double] $ToMs = [double]::MaxValue
    )
    [AedDeployRig.Probe.Prober]::Summarize([AedDeployRig.Probe.ProbeSample[]]$Result.Samples, [AedDeployRig.Probe.ProbeTarget[]]$Result.ProbeTargets, $FromMs, $ToMs)
}

function Stop-AedProbe {
    <#
    .SYNOPSIS
    Stops a probe (waiting for answers in flight) and returns what it saw: StartedAt, DurationMs,
    IntervalMs, Sent, Failed, LongestFailureWindowMs, per-target summaries (Targets: Sent, Failed,
    LongestFailureWindowMs, FirstFailureAtMs/LastFailureAtMs relative to the start, Failures, Versions)
    and the raw Samples (AtMs, DurationMs, Target, Status, Error, Failed, Version, BuildId, Pid, Cache).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [AedDeployRig.Probe.Prober] $Probe)
    try {
        $Probe.Stop()
        $samples = $Probe.Samples()
        $result = [pscustomobject]@{
            StartedAt              = $Probe.StartedAt
            DurationMs             = [math]::Round($Probe.ElapsedMs)
            IntervalMs             = $Probe.IntervalMs
            Sent                   = $samples.Count
            Failed                 = @($samples | Where-Object Failed).Count
            LongestFailureWindowMs = 0
            Skipped                = ($Probe.Targets | Measure-Object -Sum Skipped).Sum
            Targets                = $null
            ProbeTargets           = [AedDeployRig.Probe.ProbeTarget[]]$Probe.Targets
            Samples                = $samples
        }
        $result.Targets = Get-AedProbeSummary -Result $result
        $result.LongestFailureWindowMs = ($result.Targets | Measure-Object -Maximum LongestFailureWindowMs).Maximum
        $result
    }
    finally {
        $Probe.Dispose()
    }
}

function Get-AedProbeStaticChunk {
    <#
    .SYNOPSIS
    The path of the live page's own client chunk: the /_next/static chunk its HTML references whose content holds
    -Marker (by default the text of the page's id="client-version" element, which the fixture's client component
    renders from app/version.ts, so it differs between any two versions).
    .DESCRIPTION
    Found by content, not by path: Next 16 (Turbopack) names chunks by flat hashes, and the runtime chunk a path
    pattern would fall back to is the same in every version, so probing it shows nothing about version skew.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param([Parameter(Mandatory)] [uri] $PageUrl, [string] $Marker, [switch] $AllowRemote)
    if (-not $PageUrl.IsLoopback -and -not $AllowRemote) { throw "Only loopback addresses unless -AllowRemote, not '$PageUrl'" }
    $handler = [Net.Http.SocketsHttpHandler]@{ UseProxy = $false; AllowAutoRedirect = $false; UseCookies = $false }
    $client = [Net.Http.HttpClient]::new($handler)
    $client.Timeout = [TimeSpan]::FromSeconds(10)
    try {
        $html = $client.GetStringAsync($PageUrl).GetAwaiter().GetResult()
        if (-not $Marker) {
            $Marker = [Net.WebUtility]::HtmlDecode([regex]::Match($html, 'id="client-version"[^>]*>([^<]+)<').Groups[1].Value)
            if (-not $Marker) { throw "The page $PageUrl has no id=""client-version"" element: give -Marker, a text only the page's own chunk holds" }
        }
        # A deploymentId adds ?dpl=<id>: the chunk is the same file without it.
        $chunks = [regex]::Matches($html, '/_next/static/[^"''\s<>?]+\.js') | ForEach-Object Value | Select-Object -Unique
        if (-not $chunks) { throw "The page $PageUrl references no /_next/static chunk" }
        $base = [uri]::new($PageUrl, '/')
        $own = $chunks | Where-Object { $client.GetStringAsync([uri]::new($base, $_)).GetAwaiter().GetResult().Contains($Marker) } | Select-Object -First 1
    }
    finally { $client.Dispose() }
    if (-not $own) { throw "None of the $(@($chunks).Count) chunks the page $PageUrl references holds '$Marker'" }
    $own
}

function Get-AedProbeTargetSet {
    <#
    .SYNOPSIS
    The standard targets for a rig (or any app and nginx base URL): the static page /, /dynamic,
    /api/health and the live page's own client chunk, straight to the app and through nginx; and
    /fresh, the route never requested before, as deferred targets. Returns @{ Targets; DeferredTargets; StaticChunk }.
    .DESCRIPTION
    The chunk ('app:static', 'nginx:static') is the one of the version live when this runs: made just before a
    deploy, it is the previous version's chunk once the deploy switched, which every tab opened before the deploy
    still asks for (skew protection must keep it served). Make the set again before each deploy.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory, ParameterSetName = 'Rig')] $Rig,
        [Parameter(Mandatory, ParameterSetName = 'Url')] [uri] $AppUrl,
        [Parameter(ParameterSetName = 'Url')] [uri] $NginxUrl,
        [string] $FreshPath = '/fresh',
        [switch] $AllowRemote
    )
    if ($Rig) {
        $AppUrl = "http://127.0.0.1:$($Rig.AppPort)"
        $NginxUrl = if ($Rig.NginxPort) { "http://127.0.0.1:$($Rig.NginxPort)" }
    }
    $bases = [ordered]@{ app = $AppUrl.AbsoluteUri.TrimEnd('/') }
    if ($NginxUrl) { $bases.nginx = $NginxUrl.AbsoluteUri.TrimEnd('/') }
    $chunk = Get-AedProbeStaticChunk -PageUrl "$($bases.app)/" -AllowRemote:$AllowRemote
    $targets = [ordered]@{}
    $deferred = [ordered]@{}
    foreach ($base in $bases.GetEnumerator()) {
        $targets["$($base.Key):/"] = "$($base.Value)/"
        $targets["$($base.Key):/dynamic"] = "$($base.Value)/dynamic"
        $targets["$($base.Key):/api/health"] = "$($base.Value)/api/health"
        $targets["$($base.Key):static"] = "$($base.Value)$chunk"
        if ($FreshPath) { $deferred["$($base.Key):$FreshPath"] = "$($base.Value)$FreshPath" }
    }
    @{ Targets = $targets; DeferredTargets = $deferred; StaticChunk = $chunk }
}

function Invoke-AedProbedDeploy {
    <#
    .SYNOPSIS
    Runs a deploy while a probe runs, and times what it says against the probe's clock.
    .DESCRIPTION
    The deploy is either a PowerShell instance with Invoke-ZeroDowntimeDeploy added (with -Verbose, not
    yet started: its Verbose lines are read as they come) or a process (the seed's bash over ssh: its
    output lines are read). Every line is kept with the probe offset it arrived at (±50 ms), phases are
    found in them ('Phase Build.' or 'SEED-PHASE 3 build'), and the probe's deferred targets are enabled
    -ArmDelayMs after the first line matching -ArmPattern (the build command starting), or at the end when
    that line never came. -Trigger entries @{ Pattern; DelayMs; Action } run their Action (given the
    matching line) once, DelayMs after the first line matching Pattern (given the line and the PowerShell instance): Ctrl+C, dropping the connection.
    Returns StartMs, EndMs, Lines, Phases, ArmedAtMs, Triggered, Output (PowerShell), Warnings, Error (the
    terminating ErrorRecord or exception), State, ExitCode (process).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [AedDeployRig.Probe.Prober] $Probe,
        [Parameter(Mandatory, ParameterSetName = 'PowerShell')] [powershell] $PowerShell,
        # Pipeline input of the PowerShell instance's command (a fleet deploy's members), closed after the last one.
        [Parameter(ParameterSetName = 'PowerShell')] [object[]] $InputObject = @(),
        [Parameter(Mandatory, ParameterSetName = 'Process')] [Diagnostics.ProcessStartInfo] $ProcessStartInfo,
        [Parameter(ParameterSetName = 'Process')] [string] $InputText,
        [string] $ArmPattern = '\$ build-app\.sh |^SEED-PHASE 3 ',
        [int] $ArmDelayMs = 2000,
        [hashtable[]] $Trigger = @(),
        [string] $PhasePattern = '^Phase (?<name>\w+)\.$|^SEED-PHASE \d+ (?<name>\S+)$',
        [ValidateRange(1, 3600)] [int] $TimeoutSec = 600
    )
    $run = [pscustomobject]@{
        StartMs   = [math]::Round($Probe.ElapsedMs)
        EndMs     = $null
        Lines     = [Collections.Generic.List[object]]::new()
        Phases    = [Collections.Generic.List[object]]::new()
        ArmedAtMs = $null
        Triggered = [Collections.Generic.List[object]]::new()
        Output    = @()
        Warnings  = @()
        Error     = $null
        State     = $null
        ExitCode  = $null
    }
    $state = @{ ArmAt = $null }
    $pending = @($Trigger | ForEach-Object { @{ Pattern = $_.Pattern; DelayMs = [int]$_.DelayMs; Action = $_.Action; DueMs = $null; Line = $null } })
    $onLine = {
        param([string] $text)
        $at = [math]::Round($Probe.ElapsedMs)
        $run.Lines.Add([pscustomobject]@{ AtMs = $at; Text = $text })
        $m = [regex]::Match($text, $PhasePattern)
        if ($m.Success) { $run.Phases.Add([pscustomobject]@{ Name = $m.Groups['name'].Value; StartMs = $at }) }
        if ($null -eq $state.ArmAt -and $ArmPattern -and $text -match $ArmPattern) { $state.ArmAt = $at + $ArmDelayMs }
        foreach ($t in $pending) {
            if ($null -eq $t.DueMs -and $text -match $t.Pattern) { $t.DueMs = $at + $t.DelayMs; $t.Line = $text }
        }
    }
    $tick = {
        $now = $Probe.ElapsedMs
        if ($null -ne $state.ArmAt -and $null -eq $run.ArmedAtMs -and $now -ge $state.ArmAt) {
            $run.ArmedAtMs = Enable-AedProbeTarget -Probe $Probe
        }
        foreach ($t in $pending) {
            if ($null -ne $t.DueMs -and $now -ge $t.DueMs -and $t.Action) {
                $action = $t.Action
                $t.Action = $null
                # An action that fails is reported in Triggered, never left to stop the watch of a running deploy.
                $result = try { & $action $t.Line $PowerShell } catch { "failed: $($_.Exception.Message)" }
                $run.Triggered.Add([pscustomobject]@{ Pattern = $t.Pattern; AtMs = [math]::Round($Probe.ElapsedMs); Result = $result })
            }
        }
    }
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    if ($PowerShell) {
        $output = [Management.Automation.PSDataCollection[psobject]]::new()
        # The input must be closed, or the command waits for more pipeline input.
        $pipelineInput = [Management.Automation.PSDataCollection[psobject]]::new()
        foreach ($item in $InputObject) { $pipelineInput.Add([psobject]$item) }
        $pipelineInput.Complete()
        $async = $PowerShell.BeginInvoke($pipelineInput, $output)
        $read = 0
        while ($true) {
            $done = $async.IsCompleted
            $verbose = $PowerShell.Streams.Verbose
            while ($read -lt $verbose.Count) { & $onLine $verbose[$read].Message; $read++ }
            & $tick
            if ($done) { break }
            if ([DateTime]::UtcNow -ge $deadline) { $PowerShell.Stop(); throw "The deploy did not finish within $TimeoutSec s" }
            Start-Sleep -Milliseconds 50
        }
        try { $null = $PowerShell.EndInvoke($async) }
        catch {
            # The cmdlet's own error record is the innermost one: EndInvoke wraps it (MethodInvocationException, CmdletInvocationException).
            $inner = $_.Exception
            $holder = $null
            while ($inner) { if ($inner -is [Management.Automation.IContainsErrorRecord]) { $holder = $inner }; $inner = $inner.InnerException }
            $run.Error = if ($holder) { $holder.ErrorRecord } else { $_.Exception }
        }
        $run.Output = @($output)
        $run.Warnings = @($PowerShell.Streams.Warning | ForEach-Object Message)
        $run.State = $PowerShell.InvocationStateInfo.State
    }
    else {
        $ProcessStartInfo.RedirectStandardOutput = $true
        $ProcessStartInfo.RedirectStandardInput = $true
        $ProcessStartInfo.UseShellExecute = $false
        $process = [Diagnostics.Process]::Start($ProcessStartInfo)
        try {
            $process.StandardInput.Write($InputText)
            $process.StandardInput.Close()
            $next = $process.StandardOutput.ReadLineAsync()
            while ($true) {
                while ($next.IsCompleted) {
                    $line = $next.GetAwaiter().GetResult()
                    if ($null -eq $line) { break }
                    & $onLine $line
                    $next = $process.StandardOutput.ReadLineAsync()
                }
                & $tick
                if ($next.IsCompleted -and $null -eq $next.GetAwaiter().GetResult()) { break }
                if ([DateTime]::UtcNow -ge $deadline) { $process.Kill($true); throw "The deploy did not finish within $TimeoutSec s" }
                Start-Sleep -Milliseconds 50
            }
            $process.WaitForExit()
            $run.ExitCode = $process.ExitCode
        }
        finally { $process.Dispose() }
    }
    $run.EndMs = [math]::Round($Probe.ElapsedMs)
    if ($null -eq $run.ArmedAtMs -and ($Probe.Targets | Where-Object Deferred)) { $run.ArmedAtMs = Enable-AedProbeTarget -Probe $Probe }
    $run
}

Export-ModuleMember -Function Start-AedProbe, Stop-AedProbe, Enable-AedProbeTarget, Add-AedProbeTarget, Get-AedProbeSummary, Get-AedProbeStaticChunk, Get-AedProbeTargetSet,
    Invoke-AedProbedDeploy
