using AedDeploy.Engine;
using AedDeploy.Engine.Fleet;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>
/// The fleet's barrier (FleetOrchestrator.RequireSameBuild): no host switches unless every host proved the same build,
/// and a mismatch names the host and what differs, so that the operator knows where to look.
/// </summary>
public sealed class FleetBarrierTests
{
    private static readonly BuildIdentity Shipped = Identity("build-1", "static-1", "server-1", "key-1", "manifest");

    private static BuildIdentity Identity(string buildId, string staticHash, string serverHash, string keyHash, string keySource) =>
        new(buildId, staticHash, serverHash, keyHash, keySource, 1, $"{buildId}|{staticHash}|{serverHash}|{keyHash}");

    [Fact]
    public void Hosts_that_hold_one_build_pass()
    {
        FleetOrchestrator.RequireSameBuild([("web1", Shipped), ("web2", Shipped with { }), ("web3", Shipped with { })]);
    }

    [Theory]
    [InlineData("build-2", "static-1", "server-1", "key-1", "manifest", "the build id differs (build-1 against build-2)")]
    [InlineData("build-1", "static-2", "server-1", "key-1", "manifest", "the static files (.next/static) differ")]
    [InlineData("build-1", "static-1", "server-2", "key-1", "manifest", "the server manifests differ")]
    [InlineData("build-1", "static-1", "server-1", "key-2", "dotenv", "the Server Actions encryption key differs (manifest on web1, dotenv on web3)")]
    public void A_host_that_holds_another_build_stops_the_fleet_before_any_switch_naming_it_and_what_differs(
        string buildId, string staticHash, string serverHash, string keyHash, string keySource, string expected)
    {
        var other = Identity(buildId, staticHash, serverHash, keyHash, keySource);
        var error = Assert.Throws<AedDeployException>(() => FleetOrchestrator.RequireSameBuild([("web1", Shipped), ("web2", Shipped), ("web3", other)]));
        Assert.Equal("FleetBuildMismatch", error.ErrorId);
        Assert.Equal("web3", error.Target);
        Assert.StartsWith("web1 and web3 do not hold the same build: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.EndsWith("Nothing was switched.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_key_is_never_named_only_where_it_came_from()
    {
        var error = Assert.Throws<AedDeployException>(() => FleetOrchestrator.RequireSameBuild(
            [("web1", Shipped), ("web2", Identity("build-1", "static-1", "server-1", "secret-key-hash", "env"))]));
        Assert.DoesNotContain("secret-key-hash", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("key-1", error.Message, StringComparison.Ordinal);
        Assert.Contains("NEXT_SERVER_ACTIONS_ENCRYPTION_KEY", error.Message, StringComparison.Ordinal);
    }
}
