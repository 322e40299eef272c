using AedDeploy.Engine;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>Cached builds: seed-build-cache.sh through a real bash, as BuildService runs it.</summary>
public sealed class BuildCacheTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("aed-cache-").FullName;
    private readonly RemoteRunner runner = new(new AedDeploy.Transport.LocalShell(), NullDeployLog.Instance);
    private readonly BuildRequest request = new() { Ref = "main", Niceness = 0 };

    private string Live => Path.Combine(root, "live");

    private string Release => Path.Combine(root, "release");

    public BuildCacheTests()
    {
        Directory.CreateDirectory(Release);
        Write(Path.Combine(Live, ".next/cache/webpack/server-production/0.pack"), new string('w', 100_000));
        Write(Path.Combine(Live, ".next/cache/.tsbuildinfo"), "{}");
        Write(Path.Combine(Live, ".next/cache/images/abc/60.webp"), "image");
    }

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public async Task The_release_gets_a_real_copy_of_the_live_build_cache_without_the_image_cache()
    {
        var (mode, bytes) = await BuildService.SeedBuildCacheAsync(runner, Release, Live, request, CancellationToken.None);

        Assert.Contains(mode, new[] { "reflink", "copy" });
        Assert.InRange(bytes, 100_000, 10_000_000);
        var copied = Path.Combine(Release, ".next/cache/webpack/server-production/0.pack");
        Assert.Equal(File.ReadAllText(Path.Combine(Live, ".next/cache/webpack/server-production/0.pack")), File.ReadAllText(copied));
        Assert.True(File.Exists(Path.Combine(Release, ".next/cache/.tsbuildinfo")), "dot files are copied too");
        Assert.False(Directory.Exists(Path.Combine(Release, ".next/cache/images")), "the image optimizer's cache stays with the live app");

        // The build rewrites cache files in place: the live release's must not change with them (no hard links).
        await File.WriteAllTextAsync(copied, "rewritten by the new build");
        Assert.StartsWith("www", File.ReadAllText(Path.Combine(Live, ".next/cache/webpack/server-production/0.pack")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Nothing_is_copied_when_the_live_release_has_no_cache()
    {
        Directory.Delete(Path.Combine(Live, ".next/cache"), recursive: true);

        Assert.Equal(("none", 0L), await BuildService.SeedBuildCacheAsync(runner, Release, Live, request, CancellationToken.None));
        Assert.False(Directory.Exists(Path.Combine(Release, ".next")));
    }

    [Fact]
    public async Task A_cache_the_release_already_has_is_never_overwritten()
    {
        Write(Path.Combine(Release, ".next/cache/own"), "own");

        Assert.Equal(("none", 0L), await BuildService.SeedBuildCacheAsync(runner, Release, Live, request, CancellationToken.None));
        Assert.False(File.Exists(Path.Combine(Release, ".next/cache/webpack/server-production/0.pack")));
    }

    [Fact]
    public async Task A_copy_that_cannot_be_made_leaves_a_cold_build_and_no_partial_cache()
    {
        // .next is a file in the release: the cache folder cannot be created.
        await File.WriteAllTextAsync(Path.Combine(Release, ".next"), "not a folder");

        Assert.Equal(("failed", 0L), await BuildService.SeedBuildCacheAsync(runner, Release, Live, request, CancellationToken.None));
        Assert.Equal("not a folder", File.ReadAllText(Path.Combine(Release, ".next")));
    }

    private static void Write(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }
}
