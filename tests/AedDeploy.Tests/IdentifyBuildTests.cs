using System.Text.Json;
using AedDeploy.Engine;
using AedDeploy.Transport;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>
/// Proving two hosts run the same build: identify-build.js through a real bash and node, on fake releases. The Server
/// Actions key in effect is hashed from where Next takes it (the app's env, then the .env files, then the manifest),
/// and the key itself never leaves the script.
/// </summary>
public sealed class IdentifyBuildTests : IAsyncLifetime
{
    private const string EnvKey = "ZW52LWtleS1vZi10aGUtZWNvc3lzdGVtLWZpbGUtMDA=";
    private const string DotenvKey = "ZG90ZW52LWtleS1vZi10aGUtcmVsZWFzZS0wMDAwMDA=";
    private const string SharedKey = "c2hhcmVkLWVudi1rZXktbG9zZXMtdG8tbG9jYWwtMDA=";

    private FakeReleaseRoot root = null!;

    public async Task InitializeAsync() => root = await FakeReleaseRoot.CreateAsync();

    public Task DisposeAsync()
    {
        root.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task The_manifest_key_is_used_when_nothing_else_sets_one_and_the_hashes_are_those_of_the_files()
    {
        var release = await root.BuildAsync("a");

        var (identity, result) = await IdentifyAsync(release);

        Assert.Equal("build-1", identity.GetProperty("buildId").GetString());
        Assert.Equal("manifest", identity.GetProperty("keySource").GetString());
        Assert.Equal(FakeReleaseRoot.Sha256(FakeReleaseRoot.ManifestKey), identity.GetProperty("keyHash").GetString());
        Assert.Equal(3, identity.GetProperty("actions").GetInt32());
        // The documented shell equivalent gives the same static hash.
        var shell = await root.BashAsync($"cd {ShellQuote.Quote(release)} && find .next/static -type f -print0 | xargs -0 sha256sum | LC_ALL=C sort | sha256sum");
        Assert.Equal(shell.Output[..64], identity.GetProperty("staticHash").GetString());
        var server = await root.BashAsync($"""
            cd {ShellQuote.Quote(release)} && shopt -s globstar nullglob
            sha256sum .next/*manifest*.json .next/server/*manifest*.json .next/server/*manifest*.js .next/server/app/**/*_client-reference-manifest.js .next/required-server-files.json .next/server/preview-props.json | LC_ALL=C sort | sha256sum
            """);
        Assert.Equal(server.Output[..64], identity.GetProperty("serverHash").GetString());
        Assert.Equal(
            FakeReleaseRoot.Sha256($"build-1\n{identity.GetProperty("staticHash").GetString()}\n{identity.GetProperty("serverHash").GetString()}\n{FakeReleaseRoot.Sha256(FakeReleaseRoot.ManifestKey)}"),
            identity.GetProperty("fingerprint").GetString());
        AssertNoKey(result, FakeReleaseRoot.ManifestKey);
    }

    [Fact]
    public async Task The_key_of_the_apps_env_wins_over_the_dotenv_files_and_the_manifest()
    {
        var release = await root.BuildAsync("a");
        FakeReleaseRoot.Write(Path.Combine(release, ".env.local"), $"NEXT_SERVER_ACTIONS_ENCRYPTION_KEY={DotenvKey}\n");
        FakeReleaseRoot.Write(Path.Combine(release, "ecosystem.config.js"), $$"""
            module.exports = { apps: [
              { name: 'other', env: { NEXT_SERVER_ACTIONS_ENCRYPTION_KEY: 'not this app' } },
              { name: 'shop', script: 'server.js', env: { NEXT_SERVER_ACTIONS_ENCRYPTION_KEY: 'overridden' }, env_production: { NEXT_SERVER_ACTIONS_ENCRYPTION_KEY: '{{EnvKey}}' } },
            ] };
            """);

        var (identity, result) = await IdentifyAsync(release);

        Assert.Equal("env", identity.GetProperty("keySource").GetString());
        Assert.Equal(FakeReleaseRoot.Sha256(EnvKey), identity.GetProperty("keyHash").GetString());
        AssertNoKey(result, EnvKey);
        AssertNoKey(result, DotenvKey);
    }

    [Fact]
    public async Task A_dotenv_key_wins_over_the_manifest_in_Nexts_file_order()
    {
        var release = await root.BuildAsync("a");
        // .env is the link into shared/; .env.local comes before it.
        FakeReleaseRoot.Write(Path.Combine(root.Root, "shared/.env"), $"NEXT_SERVER_ACTIONS_ENCRYPTION_KEY={SharedKey}\n");
        FakeReleaseRoot.Write(Path.Combine(release, ".env.local"), $"# the key\nexport NEXT_SERVER_ACTIONS_ENCRYPTION_KEY=\"{DotenvKey}\"\n");

        var (identity, result) = await IdentifyAsync(release);

        Assert.Equal("dotenv", identity.GetProperty("keySource").GetString());
        Assert.Equal(FakeReleaseRoot.Sha256(DotenvKey), identity.GetProperty("keyHash").GetString());
        AssertNoKey(result, DotenvKey);
        AssertNoKey(result, SharedKey);

        File.Delete(Path.Combine(release, ".env.local"));
        var (shared, _) = await IdentifyAsync(release);
        Assert.Equal("dotenv", shared.GetProperty("keySource").GetString());
        Assert.Equal(FakeReleaseRoot.Sha256(SharedKey), shared.GetProperty("keyHash").GetString());
    }

    [Fact]
    public async Task A_build_without_Server_Actions_has_no_key_and_no_actions()
    {
        var release = await root.BuildAsync("a");
        File.Delete(Path.Combine(release, ".next/server/server-reference-manifest.json"));

        var (identity, _) = await IdentifyAsync(release);

        Assert.Equal("none", identity.GetProperty("keySource").GetString());
        Assert.Equal(FakeReleaseRoot.Sha256(string.Empty), identity.GetProperty("keyHash").GetString());
        Assert.Equal(0, identity.GetProperty("actions").GetInt32());
    }

    [Fact]
    public async Task Two_identical_builds_have_one_fingerprint_and_a_changed_chunk_or_manifest_changes_it()
    {
        var first = await root.BuildAsync("a");
        var second = await root.BuildAsync("b");

        var (a, _) = await IdentifyAsync(first);
        var (b, _) = await IdentifyAsync(second);
        Assert.Equal(a.GetProperty("fingerprint").GetString(), b.GetProperty("fingerprint").GetString());

        await File.AppendAllTextAsync(Path.Combine(second, ".next/static/chunks/app/page-5f2a.js"), "// another build");
        var (chunk, _) = await IdentifyAsync(second);
        Assert.NotEqual(a.GetProperty("staticHash").GetString(), chunk.GetProperty("staticHash").GetString());
        Assert.Equal(a.GetProperty("serverHash").GetString(), chunk.GetProperty("serverHash").GetString());
        Assert.NotEqual(a.GetProperty("fingerprint").GetString(), chunk.GetProperty("fingerprint").GetString());

        await File.AppendAllTextAsync(Path.Combine(first, ".next/server/app/shop/page_client-reference-manifest.js"), "// another build");
        var (manifest, _) = await IdentifyAsync(first);
        Assert.Equal(a.GetProperty("staticHash").GetString(), manifest.GetProperty("staticHash").GetString());
        Assert.NotEqual(a.GetProperty("serverHash").GetString(), manifest.GetProperty("serverHash").GetString());
        Assert.NotEqual(a.GetProperty("fingerprint").GetString(), manifest.GetProperty("fingerprint").GetString());
    }

    [Fact]
    public async Task A_different_key_in_one_hosts_env_changes_the_fingerprint()
    {
        var first = await root.BuildAsync("a");
        var second = await root.BuildAsync("b");
        FakeReleaseRoot.Write(Path.Combine(root.Root, "shared/.env"), $"NEXT_SERVER_ACTIONS_ENCRYPTION_KEY={SharedKey}\n");
        File.Delete(Path.Combine(first, ".env"));

        var (a, _) = await IdentifyAsync(first);
        var (b, _) = await IdentifyAsync(second);

        Assert.Equal(a.GetProperty("serverHash").GetString(), b.GetProperty("serverHash").GetString());
        Assert.NotEqual(a.GetProperty("keyHash").GetString(), b.GetProperty("keyHash").GetString());
        Assert.NotEqual(a.GetProperty("fingerprint").GetString(), b.GetProperty("fingerprint").GetString());
    }

    [Fact]
    public async Task A_release_without_a_BUILD_ID_or_a_loadable_ecosystem_file_cannot_be_identified()
    {
        var release = await root.BuildAsync("a");
        FakeReleaseRoot.Write(Path.Combine(release, "broken.config.js"), "module.exports = {");

        var broken = await RunAsync(release, "broken.config.js", "shop");
        Assert.Equal(ScriptExitCodes.IdentifyBuild.Unidentifiable, broken.ExitStatus);
        Assert.Contains("broken.config.js cannot be loaded", broken.Error, StringComparison.Ordinal);

        var unknown = await RunAsync(release, "ecosystem.config.js", "blog");
        Assert.Equal(ScriptExitCodes.IdentifyBuild.Unidentifiable, unknown.ExitStatus);
        Assert.Contains("no app named blog", unknown.Error, StringComparison.Ordinal);

        File.Delete(Path.Combine(release, ".next/BUILD_ID"));
        var unbuilt = await RunAsync(release, "ecosystem.config.js", "shop");
        Assert.Equal(ScriptExitCodes.IdentifyBuild.Unidentifiable, unbuilt.ExitStatus);
        Assert.Contains("BUILD_ID is missing", unbuilt.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, unbuilt.Output);
    }

    [Fact]
    public async Task A_damaged_manifest_fails_without_printing_the_key_it_holds()
    {
        var release = await root.BuildAsync("a");
        FakeReleaseRoot.Write(Path.Combine(release, ".next/server/server-reference-manifest.json"), $$"""{"encryptionKey":"{{FakeReleaseRoot.ManifestKey}}",""");

        var result = await RunAsync(release, "ecosystem.config.js", "shop");

        Assert.Equal(ScriptExitCodes.IdentifyBuild.Unidentifiable, result.ExitStatus);
        Assert.Contains("is not JSON", result.Error, StringComparison.Ordinal);
        AssertNoKey(result, FakeReleaseRoot.ManifestKey);
    }

    private static void AssertNoKey(CommandResult result, string key)
    {
        Assert.DoesNotContain(key, result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(key, result.Error, StringComparison.Ordinal);
    }

    private async Task<(JsonElement Identity, CommandResult Result)> IdentifyAsync(string release)
    {
        var result = await RunAsync(release, "ecosystem.config.js", "shop");
        Assert.True(result.Succeeded, result.Tail());
        return (RemoteAnswer.Json(result, "identify-build.js", element => element.Clone()), result);
    }

    private Task<CommandResult> RunAsync(string release, string ecosystem, string app) =>
        root.Runner.RunScriptAsync("identify-build.js", [release, ecosystem, app], CancellationToken.None);
}
