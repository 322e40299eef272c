using AedDeploy.Engine;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>Skew protection's choices that need no server: which releases' static files a new release carries, where the phases sit, the deployment id.</summary>
public sealed class StaticCarryTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly DeploySession session = DeploySession.OpenLocal();
    private readonly AppTarget target = new("/srv/app", "app", DeployLayout.Release);

    public void Dispose() => session.Dispose();

    [Fact]
    public void The_window_is_the_live_release_then_the_verified_ones_before_it_newest_first_up_to_the_count()
    {
        var releases = new[]
        {
            Release("20261101T000000Z", ReleaseStatus.Verified, verifiedDaysAgo: 5),
            Release("20261102T000000Z", ReleaseStatus.Verified, verifiedDaysAgo: 4),
            Release("20261103T000000Z", ReleaseStatus.Failed, verifiedDaysAgo: null),
            Release("20261104T000000Z", ReleaseStatus.Verified, verifiedDaysAgo: 2),
            Release("20261105T000000Z", ReleaseStatus.Verified, verifiedDaysAgo: 1, live: true),
            Release("20261106T000000Z", ReleaseStatus.Built, verifiedDaysAgo: null),
        };

        Assert.Equal(
            ["20261105T000000Z", "20261104T000000Z", "20261102T000000Z"],
            StaticCarryService.RetentionWindow(releases, "20261106T000000Z", 3, TimeSpan.FromDays(7), Now));
        Assert.Equal(["20261105T000000Z"], StaticCarryService.RetentionWindow(releases, "20261106T000000Z", 1, TimeSpan.FromDays(7), Now));
        Assert.Empty(StaticCarryService.RetentionWindow(releases, "20261106T000000Z", 0, TimeSpan.FromDays(7), Now));
    }

    [Fact]
    public void A_release_leaves_the_window_by_when_it_stopped_serving_and_the_live_one_never_does()
    {
        // Live for 30 days (went live 30 days ago): its tabs are fresh, so it is in; the one before stopped 30 days ago.
        var releases = new[]
        {
            Release("20261001T000000Z", ReleaseStatus.Verified, verifiedDaysAgo: 40),
            Release("20261002T000000Z", ReleaseStatus.Verified, verifiedDaysAgo: 30, live: true),
        };
        Assert.Equal(["20261002T000000Z"], StaticCarryService.RetentionWindow(releases, "new", 3, TimeSpan.FromDays(7), Now));

        // Replaced 3 days ago: in for 7 days, out for 2.
        var recent = new[]
        {
            Release("20261101T000000Z", ReleaseStatus.Verified, verifiedDaysAgo: 10),
            Release("20261128T000000Z", ReleaseStatus.Verified, verifiedDaysAgo: 3, live: true),
        };
        Assert.Equal(["20261128T000000Z", "20261101T000000Z"], StaticCarryService.RetentionWindow(recent, "new", 3, TimeSpan.FromDays(7), Now));
        Assert.Equal(["20261128T000000Z"], StaticCarryService.RetentionWindow(recent, "new", 3, TimeSpan.FromDays(2), Now));
    }

    [Fact]
    public void A_live_release_without_a_record_is_carried_first()
    {
        // Made by hand or by Initialize-DeployTarget before AedDeploy kept records: what open tabs run all the same.
        var releases = new[] { Release("first", ReleaseStatus.Unknown, verifiedDaysAgo: null, live: true) };
        Assert.Equal(["first"], StaticCarryService.RetentionWindow(releases, "new", 3, TimeSpan.FromDays(7), Now));
    }

    [Fact]
    public void The_Release_plan_carries_after_Validate_and_before_BootTest_and_InPlace_never()
    {
        var build = new BuildRequest { Ref = "main" };
        var health = new HealthRequest();
        var release = DeployOrchestrator.PhaseNames(DeployLayout.Release, new DeployRequest { Build = build, Health = health, DeploymentId = "d1" });
        Assert.Equal(["Validate", "CarryStatic", "DeploymentId", "BootTest", "Switch"], release.SkipWhile(p => p != "Validate").Take(5));

        Assert.DoesNotContain("CarryStatic", DeployOrchestrator.PhaseNames(DeployLayout.Release, new DeployRequest { Build = build, Health = health, StaticRetentionReleases = 0 }));
        Assert.DoesNotContain("DeploymentId", DeployOrchestrator.PhaseNames(DeployLayout.Release, new DeployRequest { Build = build, Health = health }));
        var inPlace = DeployOrchestrator.PhaseNames(DeployLayout.InPlace, new DeployRequest { Build = build, Health = health, DeploymentId = "d1" });
        Assert.DoesNotContain("CarryStatic", inPlace);
        Assert.DoesNotContain("DeploymentId", inPlace);
    }

    [Theory]
    [InlineData("abc-123_X", "NEXT_DEPLOYMENT_ID='abc-123_X' npm run build")]
    public void The_build_command_gets_the_id_quoted_in_front(string id, string expected) =>
        Assert.Equal(expected, DeploymentIdService.BuildCommand("npm run build", id));

    [Theory]
    [InlineData("")]
    [InlineData("a b")]
    [InlineData("x;rm -rf /")]
    [InlineData("dpl=1&x")]
    public void An_id_Next_would_refuse_is_refused_before_anything_runs(string id)
    {
        var failure = Assert.Throws<AedDeployException>(() => DeploymentIdService.Validate(id));
        Assert.Equal("InvalidDeploymentId", failure.ErrorId);
    }

    private ReleaseInfo Release(string id, ReleaseStatus status, int? verifiedDaysAgo, bool live = false) => new(session, target)
    {
        Id = id,
        Status = status,
        IsLive = live,
        CreatedAt = Now.AddDays(-(verifiedDaysAgo ?? 0) - 0.01),
        VerifiedAt = verifiedDaysAgo is { } days ? Now.AddDays(-days) : null,
    };
}
