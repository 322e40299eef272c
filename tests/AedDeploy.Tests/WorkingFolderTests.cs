using AedDeploy.Engine;
using AedDeploy.Transport;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>
/// Where PM2 runs the app against where a deploy builds it: the preflight check (against real folders and links
/// made here, resolved by the local shell as they would be on a server) and the reload's check of the workers.
/// </summary>
public sealed class WorkingFolderTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("aed-folders-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public async Task Release_passes_when_PM2_runs_the_app_from_the_current_link()
    {
        var app = MakeReleaseLayout("app");

        var check = await PreflightAsync(new AppTarget(app, "web", DeployLayout.Release), $"{app}/current");

        Assert.True(check.Passed, check.Detail);
        Assert.Null(check.ErrorId);
    }

    [Fact]
    public async Task Release_fails_when_PM2_is_pinned_to_a_resolved_release()
    {
        var app = MakeReleaseLayout("app");

        var check = await PreflightAsync(new AppTarget(app, "web", DeployLayout.Release), $"{app}/releases/r1");

        Assert.False(check.Passed);
        Assert.Equal("Pm2AppElsewhere", check.ErrorId);
        Assert.Contains($"PM2 runs web from {app}/releases/r1, not from {app}/current", check.Detail, StringComparison.Ordinal);
        Assert.Contains($"pinned to one release: run Initialize-DeployTarget -AppPath {app}", check.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Release_fails_when_PM2_runs_another_apps_current()
    {
        var app = MakeReleaseLayout("app");
        var other = MakeReleaseLayout("other");

        var check = await PreflightAsync(new AppTarget(app, "web", DeployLayout.Release), $"{other}/current");

        Assert.False(check.Passed);
        Assert.Equal("Pm2AppElsewhere", check.ErrorId);
        Assert.Contains($"from {other}/current ({other}/releases/r1), not from {app}/current", check.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InPlace_passes_for_the_checkout_and_for_a_link_to_it()
    {
        var checkout = Directory.CreateDirectory(Path.Combine(root, "checkout")).FullName;
        File.CreateSymbolicLink(Path.Combine(root, "link"), checkout);
        var target = new AppTarget(checkout, "web", DeployLayout.InPlace);

        Assert.True((await PreflightAsync(target, checkout)).Passed);
        Assert.True((await PreflightAsync(target, Path.Combine(root, "link"))).Passed);
    }

    [Fact]
    public async Task InPlace_fails_when_PM2_runs_the_app_from_a_current_link_and_names_the_Release_layout()
    {
        var checkout = Directory.CreateDirectory(Path.Combine(root, "checkout")).FullName;
        var migrated = MakeReleaseLayout("srv");

        var check = await PreflightAsync(new AppTarget(checkout, "web", DeployLayout.InPlace), $"{migrated}/current");

        Assert.False(check.Passed);
        Assert.Equal("Pm2AppElsewhere", check.ErrorId);
        Assert.Contains($"not from {checkout}", check.Detail, StringComparison.Ordinal);
        Assert.Contains($"deploy it with -Layout Release -AppPath {migrated}", check.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InPlace_fails_when_PM2_runs_another_checkout_and_names_its_AppPath()
    {
        var checkout = Directory.CreateDirectory(Path.Combine(root, "checkout")).FullName;
        var other = Directory.CreateDirectory(Path.Combine(root, "other")).FullName;

        var check = await PreflightAsync(new AppTarget(checkout, "web", DeployLayout.InPlace), other);

        Assert.False(check.Passed);
        Assert.Contains($"Deploy that checkout with -AppPath {other}", check.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void The_reload_fails_an_InPlace_worker_that_runs_in_another_folder()
    {
        var target = new AppTarget("/srv/app", "web", DeployLayout.InPlace);
        ReloadedWorker[] workers =
        [
            new(new Pm2Process { PmId = 0, Pid = 100, Cwd = "/srv/app" }, "/srv/app", "/srv/app"),
            new(new Pm2Process { PmId = 1, Pid = 101, Cwd = "/srv/old/current" }, "/srv/old/releases/r1", "/srv/old/releases/r1"),
        ];

        var problems = ReloadService.CheckWorkingFolders(target, "/srv/app", workers).ToList();

        Assert.Equal(
            [
                "instance 1 has PM2 cwd /srv/old/current, not the checkout /srv/app: PM2 runs the app from another folder (deploy that folder with its own -AppPath)",
                "worker pid 101 runs in /srv/old/releases/r1, not /srv/app",
            ],
            problems);
    }

    [Fact]
    public void The_reload_fails_a_Release_worker_pinned_to_a_release_or_left_in_the_old_one()
    {
        var target = new AppTarget("/srv/app", "web", DeployLayout.Release);
        ReloadedWorker[] workers =
        [
            new(new Pm2Process { PmId = 0, Pid = 100, Cwd = "/srv/app/current" }, "/srv/app/releases/new", "/srv/app/releases/new"),
            new(new Pm2Process { PmId = 1, Pid = 101, Cwd = "/srv/app/current" }, "/srv/app/releases/old", "/srv/app/releases/new"),
            new(new Pm2Process { PmId = 2, Pid = 102, Cwd = "/srv/app/releases/new" }, "/srv/app/releases/new", "/srv/app/releases/new"),
        ];

        var problems = ReloadService.CheckWorkingFolders(target, "/srv/app/releases/new", workers).ToList();

        Assert.Equal(2, problems.Count);
        Assert.Equal("worker pid 101 runs in /srv/app/releases/old, not /srv/app/releases/new", problems[0]);
        Assert.StartsWith("instance 2 has PM2 cwd /srv/app/releases/new, not /srv/app/current: PM2 keeps it pinned", problems[1], StringComparison.Ordinal);
    }

    private string MakeReleaseLayout(string name)
    {
        var app = Directory.CreateDirectory(Path.Combine(root, name)).FullName;
        Directory.CreateDirectory(Path.Combine(app, "releases", "r1"));
        File.CreateSymbolicLink(Path.Combine(app, "current"), Path.Combine(app, "releases", "r1"));
        return app;
    }

    private static Task<PreflightCheck> PreflightAsync(AppTarget target, string pm2Cwd) =>
        AppFolderCheck.CheckAsync(new RemoteRunner(new LocalShell(), NullDeployLog.Instance), target, [new Pm2Process { Name = "web", Cwd = pm2Cwd }], CancellationToken.None);
}
