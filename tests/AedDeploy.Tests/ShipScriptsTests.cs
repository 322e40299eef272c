using System.Text;
using AedDeploy.Engine;
using AedDeploy.Transport;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>
/// Building once and shipping the build: pack-release.sh, stream-release.sh and receive-release.sh through a real bash,
/// from a built release into a second clone of the same commit, and build-app.sh for a receiver (Prisma, no build).
/// </summary>
public sealed class ShipScriptsTests : IAsyncLifetime
{
    private const string List = ".next/aeddeploy-ship.list";
    private const string Manifest = ".next/aeddeploy-ship.sha256";

    private FakeReleaseRoot root = null!;

    private RemoteRunner Runner => root.Runner;

    public async Task InitializeAsync() => root = await FakeReleaseRoot.CreateAsync();

    public Task DisposeAsync()
    {
        root.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Pack_lists_exactly_the_untracked_build_outputs_and_writes_their_manifest()
    {
        var release = await root.BuildAsync("a");

        var result = await Runner.RunScriptAsync("pack-release.sh", [root.Root, "a"], CancellationToken.None);

        Assert.True(result.Succeeded, result.Tail());
        var expected = FakeReleaseRoot.BuildOutputs.Order(StringComparer.Ordinal).ToList();
        var listed = File.ReadAllText(Path.Combine(release, List)).Split('\0', StringSplitOptions.RemoveEmptyEntries);
        // Not node_modules (nor the standalone copy's), not .next/cache, not the shared .env link, not the host's own
        // .env.production.local, not the tracked files; the manifest last, so that the archive carries it.
        Assert.Equal([.. expected, Manifest], listed);

        var lines = File.ReadAllLines(Path.Combine(release, Manifest));
        Assert.Equal(expected, lines.Select(line => line[66..]));
        foreach (var line in lines)
        {
            Assert.Equal(FakeReleaseRoot.Sha256(File.ReadAllBytes(Path.Combine(release, line[66..]))), line[..64]);
        }

        var bytes = expected.Sum(path => new FileInfo(Path.Combine(release, path)).Length);
        Assert.Equal([expected.Count.ToString(), bytes.ToString()], RemoteAnswer.Lines(result, "pack-release.sh", 2));
    }

    [Fact]
    public async Task Pack_lists_a_link_of_the_build_but_leaves_it_out_of_the_manifest()
    {
        var release = await root.BuildAsync("a");
        File.CreateSymbolicLink(Path.Combine(release, ".next/static/chunks/latest.js"), "main-9c1b.js");

        var result = await Runner.RunScriptAsync("pack-release.sh", [root.Root, "a"], CancellationToken.None);

        Assert.True(result.Succeeded, result.Tail());
        Assert.Contains(".next/static/chunks/latest.js", File.ReadAllText(Path.Combine(release, List)).Split('\0'));
        Assert.DoesNotContain(File.ReadAllLines(Path.Combine(release, Manifest)), line => line.EndsWith("latest.js", StringComparison.Ordinal));
        Assert.Equal(FakeReleaseRoot.BuildOutputs.Count.ToString(), RemoteAnswer.Lines(result, "pack-release.sh", 2)[0]);
    }

    [Fact]
    public async Task Pack_refuses_a_release_without_a_BUILD_ID()
    {
        var release = await root.CloneAsync("a");

        var result = await Runner.RunScriptAsync("pack-release.sh", [root.Root, "a"], CancellationToken.None);

        Assert.Equal(ScriptExitCodes.PackRelease.NotBuilt, result.ExitStatus);
        Assert.Contains("BUILD_ID is missing", result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(release, List)));
    }

    [Fact]
    public async Task Pack_outside_a_git_checkout_is_a_listing_failure()
    {
        var release = await root.BuildAsync("a");
        Directory.Delete(Path.Combine(release, ".git"), recursive: true);

        var result = await Runner.RunScriptAsync("pack-release.sh", [root.Root, "a"], CancellationToken.None);

        Assert.Equal(ScriptExitCodes.PackRelease.ListingFailed, result.ExitStatus);
    }

    [Fact]
    public async Task A_streamed_release_received_into_a_clone_of_the_same_commit_has_byte_identical_files()
    {
        var built = await root.BuildAsync("a");
        var receiver = await root.CloneAsync("b");
        var archive = await PackAndStreamAsync("a");

        // Upper case, as Convert.ToHexString gives it.
        var result = await ReceiveAsync("b", archive, Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(archive))), root.Commit);

        Assert.True(result.Succeeded, result.Tail());
        Assert.Equal([FakeReleaseRoot.BuildOutputs.Count.ToString(), "build-1"], RemoteAnswer.Lines(result, "receive-release.sh", 2));
        foreach (var path in FakeReleaseRoot.BuildOutputs.Append(Manifest))
        {
            Assert.True(File.ReadAllBytes(Path.Combine(built, path)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(receiver, path))), path);
        }

        Assert.False(Directory.Exists(Path.Combine(receiver, ".next/cache")), "the build cache is not shipped");
        Assert.False(File.Exists(Path.Combine(receiver, ".env.production.local")), "each host writes its own");
        Assert.Equal(Path.Combine(root.Root, "shared/.env"), new FileInfo(Path.Combine(receiver, ".env")).LinkTarget);
        Assert.True(File.Exists(Path.Combine(receiver, "node_modules/next/dist/index.js")), "the receiver's own install stays");
        Assert.False(Directory.Exists(Path.Combine(receiver, ".next/standalone/node_modules")));
        Assert.False(File.Exists(Incoming("b")));
    }

    [Fact]
    public async Task Stream_without_a_pack_gives_no_archive()
    {
        await root.BuildAsync("a");
        using var output = new MemoryStream();

        var result = await Runner.RunToStreamAsync(RemoteScripts.Command("stream-release.sh"), output, CancellationToken.None, arguments: [root.Root, "a"]);

        Assert.Equal(ScriptExitCodes.StreamRelease.ListMissing, result.ExitStatus);
        Assert.Equal(0, output.Length);
        Assert.Contains("pack-release.sh", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_archive_that_is_not_the_one_sent_is_refused_before_anything_is_extracted()
    {
        await root.BuildAsync("a");
        var receiver = await root.CloneAsync("b");
        var archive = await PackAndStreamAsync("a");

        var result = await ReceiveAsync("b", archive, FakeReleaseRoot.Sha256("another archive"), root.Commit);

        Assert.Equal(ScriptExitCodes.ReceiveRelease.ArchiveMismatch, result.ExitStatus);
        Assert.Contains("is not the one sent", result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Incoming("b")), "the incoming archive is removed");
        Assert.False(Directory.Exists(Path.Combine(receiver, ".next")));
    }

    [Fact]
    public async Task A_file_changed_after_the_pack_fails_the_manifest_check_even_with_the_right_archive_hash()
    {
        var built = await root.BuildAsync("a");
        await root.CloneAsync("b");
        await Runner.RunScriptAsync("pack-release.sh", [root.Root, "a"], CancellationToken.None);
        await File.AppendAllTextAsync(Path.Combine(built, ".next/static/chunks/app/page-5f2a.js"), "tampered");
        var archive = await StreamAsync("a");

        var result = await ReceiveAsync("b", archive, FakeReleaseRoot.Sha256(File.ReadAllBytes(archive)), root.Commit);

        Assert.Equal(ScriptExitCodes.ReceiveRelease.ManifestMismatch, result.ExitStatus);
        Assert.Contains(".next/static/chunks/app/page-5f2a.js: FAILED", result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Incoming("b")));
    }

    [Fact]
    public async Task A_release_at_another_commit_is_refused()
    {
        await root.BuildAsync("a");
        var receiver = await root.CloneAsync("b");
        await root.BashAsync($"git -C {ShellQuote.Quote(receiver)} -c user.name=t -c user.email=t@t commit -q --allow-empty -m two");
        var archive = await PackAndStreamAsync("a");

        var result = await ReceiveAsync("b", archive, FakeReleaseRoot.Sha256(File.ReadAllBytes(archive)), root.Commit);

        Assert.Equal(ScriptExitCodes.ReceiveRelease.CommitMismatch, result.ExitStatus);
        Assert.Contains(root.Commit, result.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(receiver, ".next")));
        Assert.False(File.Exists(Incoming("b")));
    }

    [Fact]
    public async Task A_missing_release_folder_is_refused()
    {
        await root.BuildAsync("a");
        var archive = await PackAndStreamAsync("a");

        var result = await ReceiveAsync("b", archive, FakeReleaseRoot.Sha256(File.ReadAllBytes(archive)), root.Commit);

        Assert.Equal(ScriptExitCodes.ReceiveRelease.ReleaseMissing, result.ExitStatus);
        Assert.False(File.Exists(Incoming("b")));
    }

    [Fact]
    public async Task An_archive_with_a_dot_dot_member_fails_and_writes_nothing_outside_the_release()
    {
        var receiver = await root.CloneAsync("b");
        var archive = Path.Combine(root.Folder, "evil.tgz");
        FakeReleaseRoot.Write(Path.Combine(root.Folder, "evil/escaped"), "outside");
        await root.BashAsync($"cd {ShellQuote.Quote(root.Folder)} && tar -czPf evil.tgz --transform 's,^evil/,../../evil-out/,' evil/escaped");

        var result = await ReceiveAsync("b", archive, FakeReleaseRoot.Sha256(File.ReadAllBytes(archive)), root.Commit);

        Assert.Equal(ScriptExitCodes.ReceiveRelease.ExtractFailed, result.ExitStatus);
        Assert.Contains("contains '..'", result.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(root.Root, "evil-out")));
        Assert.False(Directory.Exists(Path.Combine(root.Root, "releases/evil-out")));
        Assert.False(File.Exists(Incoming("b")));
        Assert.True(Directory.Exists(receiver));
    }

    [Fact]
    public async Task A_receiver_with_no_build_command_generates_the_Prisma_client_and_builds_nothing()
    {
        var release = await root.CloneAsync("b");

        var plain = await Runner.RunScriptAsync("build-app.sh", [release, string.Empty], CancellationToken.None);
        Assert.Equal(0, plain.ExitStatus);
        Assert.DoesNotContain("prisma generate", plain.Output, StringComparison.Ordinal);

        // The fake install has no Prisma CLI: that the step fails proves it ran.
        FakeReleaseRoot.Write(Path.Combine(release, "prisma/schema.prisma"), "datasource db { provider = \"sqlite\" url = \"file:x\" }\n");
        var prisma = await Runner.RunScriptAsync("build-app.sh", [release, string.Empty], CancellationToken.None);
        Assert.Equal(ScriptExitCodes.BuildApp.PrismaGenerateFailed, prisma.ExitStatus);
        Assert.Contains("prisma generate", prisma.Output, StringComparison.Ordinal);

        File.Delete(Path.Combine(release, "prisma/schema.prisma"));
        var build = await Runner.RunScriptAsync("build-app.sh", [release, "touch built"], CancellationToken.None);
        Assert.Equal(0, build.ExitStatus);
        Assert.True(File.Exists(Path.Combine(release, "built")), "a build command still runs");
    }

    private string Incoming(string id) => Path.Combine(root.Root, "releases", id + ".incoming.tgz");

    private async Task<string> PackAndStreamAsync(string id)
    {
        var pack = await Runner.RunScriptAsync("pack-release.sh", [root.Root, id], CancellationToken.None);
        Assert.True(pack.Succeeded, pack.Tail());
        return await StreamAsync(id);
    }

    private async Task<string> StreamAsync(string id)
    {
        var archive = Path.Combine(root.Folder, id + ".tgz");
        await using (var output = File.Create(archive))
        {
            var result = await Runner.RunToStreamAsync(RemoteScripts.Command("stream-release.sh"), output, CancellationToken.None, arguments: [root.Root, id]);
            Assert.True(result.Succeeded, result.Tail());
        }

        return archive;
    }

    private async Task<CommandResult> ReceiveAsync(string id, string archive, string hash, string commit)
    {
        await using var input = File.OpenRead(archive);
        return await Runner.RunWithInputAsync(RemoteScripts.Command("receive-release.sh"), input, CancellationToken.None, arguments: [root.Root, id, hash, commit]);
    }
}
