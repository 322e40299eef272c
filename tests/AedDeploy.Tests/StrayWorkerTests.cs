using System.Diagnostics;
using AedDeploy.Engine;
using AedDeploy.Transport;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>
/// end-stray-workers.js against real processes on this machine: a stand-in for PM2's daemon (a bash whose
/// pid is in PM2_HOME/pm2.pid) with node children started the way PM2 starts cluster workers (pm2_env in
/// their environment). PM2_HOME is set for this process, so these tests do not run beside others that read it.
/// </summary>
[Collection(nameof(StrayWorkerTests))]
public sealed class StrayWorkerTests : IDisposable
{
    private readonly string pm2Home = Directory.CreateTempSubdirectory("aed-pm2home-").FullName;
    private readonly string? previousPm2Home = Environment.GetEnvironmentVariable("PM2_HOME");
    private Process? daemon;

    public StrayWorkerTests() => Environment.SetEnvironmentVariable("PM2_HOME", pm2Home);

    public void Dispose()
    {
        if (daemon is { HasExited: false })
        {
            daemon.Kill(entireProcessTree: true);
        }

        daemon?.Dispose();
        Environment.SetEnvironmentVariable("PM2_HOME", previousPm2Home);
        Directory.Delete(pm2Home, recursive: true);
    }

    [Fact]
    public async Task Ends_only_the_apps_workers_the_daemon_runs_and_PM2_does_not_list()
    {
        var (listed, stray, otherApp, forkMode) = StartDaemon();
        var pm2 = new Pm2Client(new RemoteRunner(new LocalShell(), NullDeployLog.Instance), new AppTarget("/srv/fixture", "fixture", DeployLayout.Release));

        var ended = await pm2.EndStrayWorkersAsync([new Pm2Process { Name = "fixture", Pid = listed }], CancellationToken.None);

        Assert.Equal(2, ended.Count);
        Assert.Contains(ended, line => line.Contains($"stray worker {stray} of fixture ended", StringComparison.Ordinal));
        Assert.Contains(ended, line => line.Contains($"stray worker {forkMode} of fixture ended", StringComparison.Ordinal));
        await WaitGoneAsync(stray);
        await WaitGoneAsync(forkMode);
        Assert.True(IsAlive(listed), "the worker PM2 lists is left alone");
        Assert.True(IsAlive(otherApp), "another app's worker is left alone");
    }

    [Fact]
    public async Task Does_nothing_without_a_PM2_daemon()
    {
        var pm2 = new Pm2Client(new RemoteRunner(new LocalShell(), NullDeployLog.Instance), new AppTarget("/srv/fixture", "fixture", DeployLayout.Release));

        var ended = await pm2.EndStrayWorkersAsync([], CancellationToken.None);

        Assert.Empty(ended);
    }

    private (int Listed, int Stray, int OtherApp, int ForkMode) StartDaemon()
    {
        // Each child is node sleeping; the daemon prints their pids, then waits.
        const string Sleep = "node -e 'setInterval(() => {}, 1000)'";
        var script = $$"""
            pm2_env='{"name":"fixture","pm_id":0}' {{Sleep}} & echo $!
            pm2_env='{"name":"fixture","pm_id":1}' {{Sleep}} & echo $!
            pm2_env='{"name":"other","pm_id":2}' {{Sleep}} & echo $!
            name=fixture pm_id=3 {{Sleep}} & echo $!
            wait
            """;
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        daemon = Process.Start(start)!;
        File.WriteAllText(Path.Combine(pm2Home, "pm2.pid"), daemon.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var pids = Enumerable.Range(0, 4).Select(_ => int.Parse(daemon.StandardOutput.ReadLine()!, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return (pids[0], pids[1], pids[2], pids[3]);
    }

    private static bool IsAlive(int pid) => File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2].Equals("Z", StringComparison.Ordinal);

    private static async Task WaitGoneAsync(int pid)
    {
        for (var i = 0; i < 50 && IsAlive(pid); i++)
        {
            await Task.Delay(100);
        }

        Assert.False(IsAlive(pid), $"pid {pid} was ended");
    }
}
