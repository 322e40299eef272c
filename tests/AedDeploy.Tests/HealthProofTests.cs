using AedDeploy.Engine;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>How an answer is tied to the build that should be serving, and what a whole health check proved.</summary>
public sealed class HealthProofTests
{
    private const string New = "new-build-id";
    private const string Old = "old-build-id";

    [Fact]
    public void Without_an_expected_build_id_an_answer_proves_its_status_only()
    {
        Assert.Equal((HealthProof.Status, null), HealthService.CheckBuildId(null, required: false, New, New));
    }

    [Fact]
    public void The_header_of_the_expected_build_proves_it()
    {
        Assert.Equal((HealthProof.BuildIdHeader, null), HealthService.CheckBuildId(New, required: false, New, "{}"));
    }

    [Fact]
    public void An_old_worker_fails_by_its_header_even_when_its_body_names_the_new_build()
    {
        var (proof, error) = HealthService.CheckBuildId(New, required: false, Old, $"{{\"deploying\":\"{New}\"}}");

        Assert.Equal(HealthProof.Status, proof);
        Assert.Equal($"the answer comes from build {Old} (X-Build-Id), not {New}", error);
    }

    [Fact]
    public void Without_a_header_the_body_naming_the_build_proves_it()
    {
        // As a Next.js 16 page carries it, in its inline React Server Components payload.
        Assert.Equal((HealthProof.BuildIdBody, null), HealthService.CheckBuildId(New, required: false, string.Empty, $"{{\"b\":\"{New}\"}}"));
    }

    [Fact]
    public void An_answer_showing_no_build_id_passes_on_its_status_unless_the_id_is_required()
    {
        Assert.Equal((HealthProof.Status, null), HealthService.CheckBuildId(New, required: false, string.Empty, "ok"));

        var (proof, error) = HealthService.CheckBuildId(New, required: true, string.Empty, "ok");
        Assert.Equal(HealthProof.Status, proof);
        Assert.Equal($"the answer does not show build {New} (no X-Build-Id header, not in the body)", error);
    }

    [Theory]
    [InlineData(new[] { HealthProof.BuildIdHeader, HealthProof.BuildIdHeader }, HealthProof.BuildIdHeader)]
    [InlineData(new[] { HealthProof.BuildIdHeader, HealthProof.BuildIdBody }, HealthProof.BuildIdBody)]
    [InlineData(new[] { HealthProof.BuildIdBody, HealthProof.Status, HealthProof.BuildIdHeader }, HealthProof.Status)]
    [InlineData(new HealthProof[0], HealthProof.Status)]
    public void A_health_check_is_only_as_proven_as_its_weakest_answer(HealthProof[] proofs, HealthProof expected)
    {
        Assert.Equal(expected, HealthService.Weakest(proofs));
    }

    [Fact]
    public void The_rollback_check_asks_for_the_old_build_as_strictly_as_the_deploy_asked_for_the_new()
    {
        var deploy = new HealthRequest { Urls = [new Uri("http://127.0.0.1/api/health")], ContentPattern = "version 2", RequireBuildId = true }.WithBuildId(New);

        var rollback = deploy.ForRollback(Old);

        Assert.Equal(Old, rollback.ExpectedBuildId);
        Assert.True(rollback.RequireBuildId);
        Assert.Null(rollback.ContentPattern);
        Assert.Null(deploy.ForRollback(null).ExpectedBuildId);
    }
}
