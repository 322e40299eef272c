using System.Net;
using System.Net.Sockets;
using AedDeploy.Engine;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>
/// Test-AppHealth's build id check end to end on this machine: a local session probes (with curl, as on a server)
/// a loopback HTTP server that answers as the test says, with or without an X-Build-Id header.
/// </summary>
public sealed class HealthCheckTests : IDisposable
{
    private const string New = "new-build-id";
    private const string Old = "old-build-id";

    private readonly HttpListener listener = new();
    private readonly DeploySession session = DeploySession.OpenLocal();
    private readonly RecordingLog log = new();
    private readonly Uri url;
    private Func<int, string?> buildIdOfAnswer = _ => null;

    public HealthCheckTests()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        url = new Uri($"http://127.0.0.1:{port}/api/health");
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        _ = ServeAsync();
    }

    public void Dispose()
    {
        listener.Close();
        session.Dispose();
    }

    [Fact]
    public async Task An_app_that_shows_no_build_id_passes_on_its_status_and_is_warned_about()
    {
        var report = await CheckAsync(new HealthRequest { Urls = [url], CheckPm2 = false, MaximumRetryCount = 0 }.WithBuildId(New));

        Assert.True(report.Healthy, string.Join("; ", report.Problems));
        Assert.Equal(HealthProof.Status, report.Proof);
        Assert.Contains(log.Warnings, w => w.Contains("gives no build id", StringComparison.Ordinal) && w.Contains("health proves the HTTP status only", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Answers_with_the_new_build_id_in_their_header_prove_it_without_a_warning()
    {
        buildIdOfAnswer = _ => New;

        var report = await CheckAsync(new HealthRequest { Urls = [url], CheckPm2 = false, MaximumRetryCount = 0 }.WithBuildId(New));

        Assert.True(report.Healthy, string.Join("; ", report.Problems));
        Assert.Equal(HealthProof.BuildIdHeader, report.Proof);
        Assert.Equal(HealthProof.BuildIdHeader, report.Probes.Single().Proof);
        Assert.Empty(log.Warnings);
    }

    [Fact]
    public async Task An_old_build_answering_every_other_request_fails_health()
    {
        buildIdOfAnswer = n => n % 2 == 0 ? New : Old;

        var report = await CheckAsync(new HealthRequest { Urls = [url], CheckPm2 = false, MaximumRetryCount = 2, RetryInterval = TimeSpan.Zero }.WithBuildId(New));

        Assert.False(report.Healthy);
        Assert.Equal(HealthProof.Status, report.Proof);
        Assert.Contains($"the answer comes from build {Old} (X-Build-Id), not {New}", report.Problems.Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_an_expected_build_id_nothing_is_proven_beyond_the_status_and_nothing_is_warned()
    {
        buildIdOfAnswer = _ => Old;

        var report = await CheckAsync(new HealthRequest { Urls = [url], CheckPm2 = false, MaximumRetryCount = 0 });

        Assert.True(report.Healthy);
        Assert.Equal(HealthProof.Status, report.Proof);
        Assert.Empty(log.Warnings);
    }

    private Task<HealthReport> CheckAsync(HealthRequest request) =>
        new HealthService(session, new AppTarget("/srv/app", "web", DeployLayout.InPlace), log).CheckAsync(request, CancellationToken.None);

    private async Task ServeAsync()
    {
        for (var n = 0; ; n++)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            if (buildIdOfAnswer(n) is { } buildId)
            {
                context.Response.AddHeader("X-Build-Id", buildId);
            }

            var body = "{\"ok\":true}"u8.ToArray();
            context.Response.StatusCode = 200;
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
    }

    private sealed class RecordingLog : IDeployLog
    {
        public List<string> Warnings { get; } = [];

        public void Verbose(string message)
        {
        }

        public void Information(string message, string tag)
        {
        }

        public void Warning(string message)
        {
            lock (Warnings)
            {
                Warnings.Add(message);
            }
        }

        public void Progress(string activity, string status, int percent)
        {
        }
    }
}
