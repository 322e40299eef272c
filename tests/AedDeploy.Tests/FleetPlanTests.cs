using AedDeploy.Engine;
using AedDeploy.Engine.Fleet;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>A fleet deploy's plan without a server: batch sizes, lock order, refused fleets, and each host's phases.</summary>
public sealed class FleetPlanTests : IDisposable
{
    private readonly DeploySession local = DeploySession.OpenLocal();
    private readonly DeployRequest request = new() { Build = new BuildRequest { Ref = "main" }, Health = new HealthRequest() };

    public void Dispose() => local.Dispose();

    [Theory]
    [InlineData("1", 3, new[] { 1, 1, 1 })]
    [InlineData("2", 3, new[] { 2, 1 })]
    [InlineData("5", 3, new[] { 3 })]
    [InlineData("50%", 3, new[] { 1, 1, 1 })]
    [InlineData("50%", 4, new[] { 2, 2 })]
    [InlineData("33%", 5, new[] { 1, 1, 1, 1, 1 })]
    [InlineData("34%", 5, new[] { 1, 1, 1, 1, 1 })]
    [InlineData("40%", 5, new[] { 2, 2, 1 })]
    [InlineData("100%", 3, new[] { 3 })]
    [InlineData("1%", 2, new[] { 1, 1 })]
    [InlineData(" 2 ", 2, new[] { 2 })]
    public void A_batch_is_a_count_or_a_rounded_down_percentage_of_at_least_one_host(string size, int hosts, int[] batches)
    {
        var split = FleetBatchSize.Parse(size).Split(hosts);

        Assert.Equal(batches, split.Select(b => b.Count).ToArray());
        Assert.Equal(Enumerable.Range(0, hosts), split.SelectMany(b => b));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("0%")]
    [InlineData("101%")]
    [InlineData("half")]
    [InlineData("1.5")]
    [InlineData("")]
    public void A_batch_size_that_is_neither_is_refused_with_what_to_give(string size)
    {
        var error = Assert.Throws<AedDeployException>(() => FleetBatchSize.Parse(size));

        Assert.Equal("BatchSizeInvalid", error.ErrorId);
        Assert.Contains("50%", error.Message);
    }

    [Fact]
    public void The_lock_order_is_host_port_and_path_whatever_order_they_were_given_in()
    {
        var members = new[] { Member("/srv/b"), Member("/srv/a"), Member("/srv/c") };

        Assert.Equal(["/srv/a", "/srv/b", "/srv/c"], FleetOrchestrator.Order(members).Select(m => m.Target.AppPath));
    }

    [Fact]
    public void A_host_given_twice_is_refused()
    {
        var error = Assert.Throws<AedDeployException>(() => FleetOrchestrator.Order([Member("/srv/a"), Member("/srv/a")]));

        Assert.Equal("FleetDuplicateHost", error.ErrorId);
        Assert.Contains("2 times", error.Message);
    }

    [Fact]
    public void An_in_place_host_is_refused_with_how_to_set_it_up()
    {
        var error = Assert.Throws<AedDeployException>(() => FleetOrchestrator.Order([Member("/srv/a"), Member("/srv/b", DeployLayout.InPlace)]));

        Assert.Equal("FleetNeedsReleaseLayout", error.ErrorId);
        Assert.Contains("Initialize-DeployTarget", error.Message);
    }

    [Fact]
    public void A_single_host_runs_the_phases_it_always_ran()
    {
        Assert.Equal(
            ["Preflight", "Lock", "Backup", "Build", "Validate", "CarryStatic", "BootTest", "Switch", "Reload", "Health", "Finalize"],
            DeployOrchestrator.PhaseNames(DeployLayout.Release, request));
    }

    [Fact]
    public void The_build_host_builds_and_packs_and_the_others_fetch_and_receive_and_every_host_proves_its_identity_and_fills_the_pool()
    {
        Assert.Equal(
            ["Preflight", "Lock", "Backup", "Build", "Pack", "Validate", "Identity", "CarryStatic", "PoolStatic", "BootTest", "Switch", "Reload", "Health", "Finalize"],
            DeployOrchestrator.FleetPhaseNames(request, builder: true));
        Assert.Equal(
            ["Preflight", "Lock", "Backup", "Fetch", "Receive", "Validate", "Identity", "CarryStatic", "PoolStatic", "BootTest", "Switch", "Reload", "Health", "Finalize"],
            DeployOrchestrator.FleetPhaseNames(request, builder: false));
    }

    private FleetMember Member(string path, DeployLayout layout = DeployLayout.Release) => new(local, new AppTarget(path, "app", layout), request);
}
