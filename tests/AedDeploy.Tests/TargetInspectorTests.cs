using AedDeploy.Engine;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>The consistency invariants and the choice of the rollback target, on facts as the server reports them.</summary>
public sealed class TargetInspectorTests : IDisposable
{
    private static readonly DateTimeOffset Noon = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
    private readonly DeploySession session = DeploySession.OpenLocal();
    private readonly AppTarget target = new("/srv/app", "app", DeployLayout.Release);

    public void Dispose() => session.Dispose();

    [Fact]
    public void The_rollback_target_is_the_last_release_verified_not_what_current_points_at()
    {
        var releases = new[]
        {
            Release("r1", ReleaseStatus.Verified, verifiedAt: Noon),
            Release("r2", ReleaseStatus.Verified, verifiedAt: Noon.AddHours(1), rollbackTarget: true),
            Release("r3", ReleaseStatus.Built, live: true),
        };
        Assert.Equal("r2", TargetInspector.ChooseRollbackTarget(releases)?.Id);
        var problem = Assert.Single(TargetInspector.FindProblems(DeployLayout.Release, "/srv/app/releases/r3", [], releases, TargetInspector.ChooseRollbackTarget(releases)));
        Assert.Contains("current points at release r3 (Built)", problem, StringComparison.Ordinal);
        Assert.Contains("last release recorded Verified is r2", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void An_older_verified_release_switched_to_by_hand_is_drift()
    {
        var releases = new[] { Release("r1", ReleaseStatus.Verified, verifiedAt: Noon, live: true), Release("r2", ReleaseStatus.Verified, verifiedAt: Noon.AddHours(1)) };
        Assert.NotEmpty(TargetInspector.FindProblems(DeployLayout.Release, "/srv/app/releases/r1", [], releases, TargetInspector.ChooseRollbackTarget(releases)));
    }

    [Fact]
    public void A_target_never_verified_adopts_its_backup_or_a_live_release_AedDeploy_did_not_make_but_never_a_failed_one()
    {
        Assert.Equal("r0", TargetInspector.ChooseRollbackTarget([Release("r0", ReleaseStatus.Unknown, live: true)])?.Id);
        Assert.Equal("r0", TargetInspector.ChooseRollbackTarget([Release("r0", ReleaseStatus.Unknown, rollbackTarget: true), Release("r1", ReleaseStatus.Built, live: true)])?.Id);
        Assert.Null(TargetInspector.ChooseRollbackTarget([Release("r1", ReleaseStatus.Built, live: true)]));
        Assert.Null(TargetInspector.ChooseRollbackTarget([Release("r1", ReleaseStatus.Failed, live: true, rollbackTarget: true)]));
    }

    [Fact]
    public void Every_worker_must_run_the_live_folder()
    {
        var releases = new[] { Release("r1", ReleaseStatus.Verified, verifiedAt: Noon, live: true) };
        var workers = new[]
        {
            new WorkerFolder(0, 100, "online", "/srv/app/releases/r1"),
            new WorkerFolder(1, 101, "online", "/srv/app/releases/r0"),
            new WorkerFolder(2, 0, "errored", string.Empty),
        };
        var problems = TargetInspector.FindProblems(DeployLayout.Release, "/srv/app/releases/r1", workers, releases, releases[0]);
        Assert.Equal(2, problems.Count);
        Assert.Contains("instance 1 (pid 101) runs /srv/app/releases/r0", problems[0], StringComparison.Ordinal);
        Assert.Contains("instance 2 (errored) has no running worker", problems[1], StringComparison.Ordinal);
        Assert.Empty(TargetInspector.FindProblems(DeployLayout.Release, "/srv/app/releases/r1", workers[..1], releases, releases[0]));
    }

    [Fact]
    public void Releases_left_building_or_built_and_not_live_are_unfinished()
    {
        var releases = new[]
        {
            Release("r1", ReleaseStatus.Verified, verifiedAt: Noon, live: true),
            Release("r2", ReleaseStatus.Building),
            Release("r3", ReleaseStatus.Built),
            Release("r4", ReleaseStatus.Failed),
            Release("r5", ReleaseStatus.Built, live: true),
        };
        Assert.Equal(["r2", "r3"], TargetInspector.FindUnfinished(releases));
    }

    [Fact]
    public void Get_Release_shows_what_an_abandoned_deploy_left_unfinished_as_Failed_and_nothing_else()
    {
        var releases = new[] { Release("r1", ReleaseStatus.Verified, verifiedAt: Noon, live: true), Release("r2", ReleaseStatus.Building) };
        var inspector = new TargetInspector(session, target, NullDeployLog.Instance);
        var abandoned = new LockInfo { DeployId = "d1", Age = TimeSpan.FromSeconds(90), Lease = TimeSpan.FromSeconds(60) };
        var shown = inspector.ShowAbandoned(releases, abandoned);
        Assert.Equal([ReleaseStatus.Verified, ReleaseStatus.Failed], shown.Select(r => r.Status));
        Assert.StartsWith("abandoned by deploy d1", shown[1].Reason, StringComparison.Ordinal);

        // A holder that still renews its lock may be building r2; with no lock, a phase cmdlet run by hand may be.
        var renewed = new LockInfo { DeployId = "d2", Age = TimeSpan.FromSeconds(3), Lease = TimeSpan.FromSeconds(60) };
        Assert.Equal(ReleaseStatus.Building, inspector.ShowAbandoned(releases, renewed)[1].Status);
        Assert.Equal(ReleaseStatus.Building, inspector.ShowAbandoned(releases, null)[1].Status);
    }

    [Fact]
    public void A_repair_proves_the_build_of_the_release_it_serves_unless_told_otherwise()
    {
        var releases = new[]
        {
            Release("r1", ReleaseStatus.Verified, verifiedAt: Noon, rollbackTarget: true, buildId: "build-r1"),
            Release("r2", ReleaseStatus.Built, live: true, buildId: "build-r2"),
        };
        var plan = new RepairPlan(session, target) { Consistency = new TargetConsistency(session, target) { Releases = releases }, ReleaseId = "r1" };
        var health = new HealthRequest { ContentPattern = "ok" };

        var proof = TargetRepairer.ProofFor(plan, health, proveBuildId: true);
        Assert.Equal("build-r1", proof.ExpectedBuildId);
        Assert.Equal("ok", proof.ContentPattern);
        Assert.Same(health, TargetRepairer.ProofFor(plan, health, proveBuildId: false));
        var named = new HealthRequest { ExpectedBuildId = "given" };
        Assert.Same(named, TargetRepairer.ProofFor(plan, named, proveBuildId: true));
        // InPlace (no release served) and a release with no recorded build id prove the status only.
        Assert.Same(health, TargetRepairer.ProofFor(new RepairPlan(session, target) { Consistency = plan.Consistency }, health, proveBuildId: true));
        var unknown = new RepairPlan(session, target) { Consistency = new TargetConsistency(session, target) { Releases = [Release("r0", ReleaseStatus.Unknown, live: true)] }, ReleaseId = "r0" };
        Assert.Same(health, TargetRepairer.ProofFor(unknown, health, proveBuildId: true));
    }

    private ReleaseInfo Release(string id, ReleaseStatus status, DateTimeOffset? verifiedAt = null, bool live = false, bool rollbackTarget = false, string buildId = "") =>
        new(session, target) { Id = id, Status = status, VerifiedAt = verifiedAt, IsLive = live, IsRollbackTarget = rollbackTarget, BuildId = buildId };
}
