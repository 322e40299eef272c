using AedDeploy.Engine;
using AedDeploy.Transport;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>
/// The static pool nginx serves every release's chunks from: pool-static.sh fill and prune through a real bash, on
/// fake releases. The pool is hard links, so a file costs nothing while a release holds it and its link count says
/// when none does.
/// </summary>
public sealed class StaticPoolTests : IAsyncLifetime
{
    private const string BuildManifest = "build-1/_buildManifest.js";

    private FakeReleaseRoot root = null!;

    private string Pool => Path.Combine(root.Root, "static/_next/static");

    public async Task InitializeAsync() => root = await FakeReleaseRoot.CreateAsync();

    public Task DisposeAsync()
    {
        root.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Fill_links_every_static_file_of_the_release_into_the_pool_in_folders_nginx_can_read()
    {
        var release = await root.BuildAsync("a");

        // A deploying shell's umask must not make the pool unreadable to nginx.
        var result = await root.Runner.RunAsync("umask 077\n" + RemoteScripts.Command("pool-static.sh"), CancellationToken.None, arguments: ["fill", root.Root, "a"]);

        Assert.True(result.Succeeded, result.Tail());
        Assert.Equal(["4", "0", "0"], RemoteAnswer.Lines(result, "pool-static.sh", 3));
        foreach (var file in new[] { BuildManifest, "chunks/app/page-5f2a.js", "chunks/main-9c1b.js", "css/app-3d4e.css" })
        {
            Assert.Equal(await InodeAsync(Path.Combine(release, ".next/static", file)), await InodeAsync(Path.Combine(Pool, file)));
        }

        foreach (var folder in new[] { "static", "static/_next", "static/_next/static", "static/_next/static/chunks/app" })
        {
            Assert.Equal("755", (await root.BashAsync($"stat -c %a -- {ShellQuote.Quote(Path.Combine(root.Root, folder))}")).Output.Trim());
        }

        var again = await Fill("a");
        Assert.Equal(["0", "4", "0"], RemoteAnswer.Lines(again, "pool-static.sh", 3));
    }

    [Fact]
    public async Task A_path_two_builds_fill_with_other_content_leaves_the_pool_for_good_so_each_host_serves_its_own()
    {
        var first = await root.BuildAsync("a");
        var second = await root.BuildAsync("b");
        // A second build with the same fixed build id: the same path, other content; and one new chunk.
        await File.WriteAllTextAsync(Path.Combine(second, ".next/static", BuildManifest), "self.__BUILD_MANIFEST = { other: 1 };\n");
        FakeReleaseRoot.Write(Path.Combine(second, ".next/static/chunks/new-77aa.js"), "new");
        await Fill("a");

        var result = await Fill("b");

        Assert.True(result.Succeeded, result.Tail());
        // Linked: the new chunk; present: the three files with the same content (now links to the pool's); one collision.
        Assert.Equal(["1", "3", "1"], RemoteAnswer.Lines(result, "pool-static.sh", 3));
        Assert.Contains($"collision: {Path.Combine(Pool, BuildManifest)}", result.Error, StringComparison.Ordinal);
        // One file cannot serve both versions: nginx passes the path to each host's app, which has its own version's.
        Assert.False(File.Exists(Path.Combine(Pool, BuildManifest)), "the path left the pool");
        Assert.Equal(await InodeAsync(Path.Combine(second, ".next/static/chunks/new-77aa.js")), await InodeAsync(Path.Combine(Pool, "chunks/new-77aa.js")));

        // For good: a later fill does not put either version's file back.
        var third = await Fill("a");
        Assert.Equal(["0", "3", "1"], RemoteAnswer.Lines(third, "pool-static.sh", 3));
        Assert.False(File.Exists(Path.Combine(Pool, BuildManifest)), "a later fill leaves the path out");
    }

    [Fact]
    public async Task Prune_removes_only_the_files_no_release_holds_and_the_folders_left_empty()
    {
        var first = await root.BuildAsync("a");
        var second = await root.BuildAsync("b");
        // b carried a's chunks in as hard links (carry-static.js) and has a build of its own under another build id.
        await root.BashAsync($"""
            set -e
            cd {ShellQuote.Quote(second)}/.next/static
            rm -rf build-1 chunks css
            mkdir -p build-2 chunks/app
            ln {ShellQuote.Quote(first)}/.next/static/chunks/main-9c1b.js chunks/main-9c1b.js
            ln {ShellQuote.Quote(first)}/.next/static/chunks/app/page-5f2a.js chunks/app/page-5f2a.js
            echo b > build-2/_buildManifest.js
            """);
        await Fill("a");
        await Fill("b");

        var nothing = await Prune();
        Assert.Equal(["0"], RemoteAnswer.Lines(nothing, "pool-static.sh", 1));

        Directory.Delete(first, recursive: true);
        var result = await Prune();

        Assert.True(result.Succeeded, result.Tail());
        // a's own _buildManifest.js and css.
        Assert.Equal(["2"], RemoteAnswer.Lines(result, "pool-static.sh", 1));
        Assert.False(Directory.Exists(Path.Combine(Pool, "build-1")), "a folder left empty goes too");
        Assert.False(File.Exists(Path.Combine(Pool, "css/app-3d4e.css")));
        Assert.True(File.Exists(Path.Combine(Pool, "chunks/main-9c1b.js")), "b still holds it");
        Assert.True(File.Exists(Path.Combine(Pool, "chunks/app/page-5f2a.js")), "b still holds it");
        Assert.True(File.Exists(Path.Combine(Pool, "build-2/_buildManifest.js")));
        Assert.True(Directory.Exists(Pool), "the pool itself stays");
    }

    [Fact]
    public async Task A_file_built_again_with_the_same_content_shares_the_pools_file_so_prune_keeps_it_while_that_release_lives()
    {
        var first = await root.BuildAsync("a");
        var second = await root.BuildAsync("b");
        await Fill("a");
        var own = Path.Combine(second, ".next/static/chunks/main-9c1b.js");
        Assert.NotEqual(await InodeAsync(Path.Combine(first, ".next/static/chunks/main-9c1b.js")), await InodeAsync(own));

        var result = await Fill("b");

        Assert.Equal(["0", "4", "0"], RemoteAnswer.Lines(result, "pool-static.sh", 3));
        Assert.Equal(await InodeAsync(Path.Combine(Pool, "chunks/main-9c1b.js")), await InodeAsync(own));
        Assert.Empty(Directory.GetFiles(Path.Combine(second, ".next/static"), "*.aeddeploy-pool", SearchOption.AllDirectories));

        // a goes (pruned by a later deploy): b, live, still has the chunk, so the pool keeps it.
        Directory.Delete(first, recursive: true);
        var pruned = await Prune();
        Assert.Equal(["0"], RemoteAnswer.Lines(pruned, "pool-static.sh", 1));
        Assert.Equal(File.ReadAllText(own), File.ReadAllText(Path.Combine(Pool, "chunks/main-9c1b.js")));
    }

    [Fact]
    public async Task A_pool_on_another_file_system_is_refused_with_the_reason()
    {
        await root.BuildAsync("a");
        // /dev/shm is a tmpfs on Linux: another file system than the temp folder's.
        var other = Path.Combine("/dev/shm", "aed-pool-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(other);
        try
        {
            Directory.CreateSymbolicLink(Path.Combine(root.Root, "static"), other);

            var result = await Fill("a");

            Assert.Equal(ScriptExitCodes.PoolStatic.LinkFailed, result.ExitStatus);
            Assert.Contains("must be on the releases' file system", result.Error, StringComparison.Ordinal);
            Assert.Empty(Directory.GetFiles(other, "*", SearchOption.AllDirectories));
        }
        finally
        {
            Directory.Delete(other, recursive: true);
        }
    }

    [Fact]
    public async Task An_unknown_mode_a_missing_argument_or_an_unbuilt_release_is_refused()
    {
        await root.CloneAsync("a");

        Assert.Equal(ScriptExitCodes.PoolStatic.Usage, (await root.Runner.RunScriptAsync("pool-static.sh", ["empty", root.Root], CancellationToken.None)).ExitStatus);
        Assert.Equal(ScriptExitCodes.PoolStatic.Usage, (await root.Runner.RunScriptAsync("pool-static.sh", ["fill", root.Root], CancellationToken.None)).ExitStatus);
        Assert.Equal(ScriptExitCodes.PoolStatic.Usage, (await root.Runner.RunScriptAsync("pool-static.sh", ["prune"], CancellationToken.None)).ExitStatus);
        var unbuilt = await Fill("a");
        Assert.Equal(ScriptExitCodes.PoolStatic.ReleaseNotBuilt, unbuilt.ExitStatus);
        Assert.False(Directory.Exists(Path.Combine(root.Root, "static")));
    }

    private Task<CommandResult> Fill(string id) => root.Runner.RunScriptAsync("pool-static.sh", ["fill", root.Root, id], CancellationToken.None);

    private Task<CommandResult> Prune() => root.Runner.RunScriptAsync("pool-static.sh", ["prune", root.Root], CancellationToken.None);

    private async Task<string> InodeAsync(string path) =>
        (await root.BashAsync($"stat -c '%d:%i' -- {ShellQuote.Quote(path)}")).Output.Trim();
}
