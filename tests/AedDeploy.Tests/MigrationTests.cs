using System.Diagnostics;
using AedDeploy.Engine;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>
/// Initialize-DeployTarget's move to current: the temporary ecosystem file, loaded by node as PM2 loads it, and
/// the rule for when an app's instances are up.
/// </summary>
public sealed class MigrationTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("aed-migrate-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Theory]
    [InlineData("module.exports = { apps: [{ name: 'other', script: 'o.js' }, { name: 'app', script: 's.js', instances: 2, env: { PORT: '1' } }] };")]
    [InlineData("module.exports = { apps: { name: 'app', script: 's.js', instances: 2, env: { PORT: '1' } } };")]
    [InlineData("module.exports = { name: 'app', script: 's.js', instances: 2, env: { PORT: '1' } };")]
    [InlineData("module.exports = [{ name: 'app', script: 's.js', instances: 2, env: { PORT: '1' } }];")]
    public void The_temporary_ecosystem_holds_the_app_alone_renamed_with_everything_else_as_the_app_file_gives_it(string ecosystem)
    {
        var apps = LoadMigrationEcosystem(ecosystem);

        Assert.Equal("""[{"name":"app-aedmigrate","script":"s.js","instances":2,"env":{"PORT":"1"}}]""", apps);
    }

    [Fact]
    public void The_temporary_ecosystem_of_a_file_without_the_app_has_no_app_so_PM2_starts_nothing()
    {
        Assert.Equal("[]", LoadMigrationEcosystem("module.exports = { apps: [{ name: 'other', script: 'o.js' }] };"));
    }

    [Fact]
    public void Instances_are_settled_when_two_lists_in_a_row_show_the_same_processes_all_online()
    {
        IReadOnlyList<Pm2Process> up = [Process(0, 100, "online"), Process(1, 101, "online")];

        Assert.False(TargetInitializer.IsSettled(null, up));
        Assert.False(TargetInitializer.IsSettled([], []));
        Assert.True(TargetInitializer.IsSettled(up, [Process(1, 101, "online"), Process(0, 100, "online")]));
        Assert.False(TargetInitializer.IsSettled(up, [Process(0, 100, "online"), Process(1, 101, "launching")]));
        Assert.False(TargetInitializer.IsSettled([Process(0, 100, "online"), Process(1, 101, "errored")], up));
        // A worker in a crash loop, online between two crashes: another pid, another restart count.
        Assert.False(TargetInitializer.IsSettled(up, [Process(0, 100, "online"), Process(1, 102, "online", restarts: 1)]));
        Assert.False(TargetInitializer.IsSettled(up, [Process(0, 100, "online")]));
    }

    private string LoadMigrationEcosystem(string ecosystem)
    {
        var app = Path.Combine(folder, "release");
        Directory.CreateDirectory(app);
        File.WriteAllText(Path.Combine(app, "ecosystem.config.cjs"), ecosystem);
        var wrapper = Path.Combine(folder, "migrate.config.cjs");
        File.WriteAllText(wrapper, TargetInitializer.MigrationEcosystem(Path.Combine(app, "ecosystem.config.cjs"), "app", TargetInitializer.MigrationNameFor("app")));
        using var node = System.Diagnostics.Process.Start(new ProcessStartInfo("node", ["-e", "process.stdout.write(JSON.stringify(require(process.argv[1]).apps))", wrapper])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = node.StandardOutput.ReadToEnd();
        var error = node.StandardError.ReadToEnd();
        node.WaitForExit();
        Assert.True(node.ExitCode == 0, error);
        return output;
    }

    private static Pm2Process Process(int pmId, int pid, string status, int restarts = 0) =>
        new() { PmId = pmId, Name = "app", Pid = pid, Status = status, RestartTime = restarts, ExecMode = "cluster_mode" };
}
