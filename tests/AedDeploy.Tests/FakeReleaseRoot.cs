using System.Security.Cryptography;
using System.Text;
using AedDeploy.Engine;
using AedDeploy.Transport;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>
/// A deploy root in a temp folder for the scripts of a fleet deploy: a git origin with one commit, releases cloned from
/// it with node_modules and a link to shared/.env as the engine leaves them, and a fake Next.js build in the shape of
/// a real one (static chunks, server manifests with a Server Actions key, a build cache, a standalone node_modules).
/// </summary>
internal sealed class FakeReleaseRoot : IDisposable
{
    public const string ManifestKey = "bWFuaWZlc3Qta2V5LW5ldmVyLXByaW50ZWQtMDEyMzQ1Ng==";

    private readonly LocalShell shell = new();

    private FakeReleaseRoot()
    {
        Runner = new RemoteRunner(shell, NullDeployLog.Instance);
    }

    public string Folder { get; } = Directory.CreateTempSubdirectory("aed-ship-").FullName;

    public string Root => Path.Combine(Folder, "root");

    public string Origin => Path.Combine(Folder, "origin");

    public string Commit { get; private set; } = string.Empty;

    public RemoteRunner Runner { get; }

    /// <summary>Every file the fake build writes that a receiver gets, relative to the release.</summary>
    public static IReadOnlyList<string> BuildOutputs { get; } =
    [
        ".next/BUILD_ID",
        ".next/build-manifest.json",
        ".next/required-server-files.json",
        ".next/server/app-paths-manifest.json",
        ".next/server/app/page.js",
        ".next/server/app/page_client-reference-manifest.js",
        ".next/server/app/shop/page_client-reference-manifest.js",
        ".next/server/preview-props.json",
        ".next/server/server-reference-manifest.js",
        ".next/server/server-reference-manifest.json",
        ".next/standalone/server.js",
        ".next/static/build-1/_buildManifest.js",
        ".next/static/chunks/app/page-5f2a.js",
        ".next/static/chunks/main-9c1b.js",
        ".next/static/css/app-3d4e.css",
        "next-env.d.ts",
        "public/sitemap.xml",
    ];

    public static async Task<FakeReleaseRoot> CreateAsync()
    {
        var root = new FakeReleaseRoot();
        Directory.CreateDirectory(Path.Combine(root.Root, "releases"));
        Write(Path.Combine(root.Root, "shared/.env"), "FROM_SHARED=1\n");
        var setup = await root.BashAsync($$"""
            set -e
            git init -q -b main {{ShellQuote.Quote(root.Origin)}} && cd {{ShellQuote.Quote(root.Origin)}}
            printf '.next\nnode_modules\n.env*\n' > .gitignore
            printf '{ "name": "shop", "private": true }\n' > package.json
            mkdir -p app public
            printf 'export default function Page() { return null; }\n' > app/page.tsx
            printf 'User-agent: *\n' > public/robots.txt
            printf "module.exports = { apps: [{ name: 'shop', script: 'node_modules/next/dist/bin/next', args: 'start', env: { PORT: '3000' } }] };\n" > ecosystem.config.js
            git add -A
            git -c user.name=t -c user.email=t@t commit -q -m one
            git rev-parse HEAD
            """);
        root.Commit = setup.Output.Trim();
        return root;
    }

    public string Release(string id) => Path.Combine(Root, "releases", id);

    /// <summary>A release as the engine leaves it before a build or a receive: cloned at the commit, installed, shared/ linked.</summary>
    public async Task<string> CloneAsync(string id)
    {
        var release = Release(id);
        await BashAsync($"""
            set -e
            git clone -q {ShellQuote.Quote(Origin)} {ShellQuote.Quote(release)}
            mkdir -p {ShellQuote.Quote(release)}/node_modules/next/dist
            printf 'module.exports = 1;\n' > {ShellQuote.Quote(release)}/node_modules/next/dist/index.js
            ln -s {ShellQuote.Quote(Path.Combine(Root, "shared/.env"))} {ShellQuote.Quote(release)}/.env
            """);
        return release;
    }

    /// <summary>A clone with the fake build in it.</summary>
    public async Task<string> BuildAsync(string id)
    {
        var release = await CloneAsync(id);
        var next = Path.Combine(release, ".next");
        Write(Path.Combine(next, "BUILD_ID"), "build-1");
        Write(Path.Combine(next, "build-manifest.json"), """{"pages":{"/_app":["static/chunks/main-9c1b.js"]}}""");
        Write(Path.Combine(next, "required-server-files.json"), """{"version":1,"appDir":"/build/shop"}""");
        Write(Path.Combine(next, "server/app-paths-manifest.json"), """{"/page":"app/page.js"}""");
        Write(Path.Combine(next, "server/app/page.js"), "exports.page = 1;\n");
        Write(Path.Combine(next, "server/app/page_client-reference-manifest.js"), "globalThis.__RSC_MANIFEST = { '/page': {} };\n");
        Write(Path.Combine(next, "server/app/shop/page_client-reference-manifest.js"), "globalThis.__RSC_MANIFEST = { '/shop/page': {} };\n");
        Write(Path.Combine(next, "server/preview-props.json"), """{"previewModeId":"p1"}""");
        var actions = """{"node":{"7f01":{"workers":{}},"7f02":{"workers":{}}},"edge":{"7f03":{"workers":{}}},"encryptionKey":""" + $"\"{ManifestKey}\"}}";
        Write(Path.Combine(next, "server/server-reference-manifest.json"), actions);
        Write(Path.Combine(next, "server/server-reference-manifest.js"), $"self.__RSC_SERVER_MANIFEST = {actions};\n");
        Write(Path.Combine(next, "static/build-1/_buildManifest.js"), "self.__BUILD_MANIFEST = {};\n");
        Write(Path.Combine(next, "static/chunks/app/page-5f2a.js"), "(self.webpackChunk = []).push(['page']);\n");
        Write(Path.Combine(next, "static/chunks/main-9c1b.js"), new string('m', 50_000));
        Write(Path.Combine(next, "static/css/app-3d4e.css"), "body { margin: 0 }\n");
        Write(Path.Combine(next, "cache/webpack/server-production/0.pack"), "cache");
        Write(Path.Combine(next, "standalone/server.js"), "require('next');\n");
        Write(Path.Combine(next, "standalone/node_modules/next/index.js"), "standalone copy");
        Write(Path.Combine(release, "next-env.d.ts"), "/// <reference types=\"next\" />\n");
        Write(Path.Combine(release, "public/sitemap.xml"), "<urlset/>\n");
        Write(Path.Combine(release, ".env.production.local"), "NEXT_DEPLOYMENT_ID=host-own\n");
        return release;
    }

    public async Task<CommandResult> BashAsync(string command)
    {
        var result = await shell.RunAsync(command, TimeSpan.FromMinutes(1), null, CancellationToken.None);
        Assert.True(result.Succeeded, $"{command}\n{result.Tail()}");
        return result;
    }

    public static void Write(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    public static string Sha256(string text) => Sha256(Encoding.UTF8.GetBytes(text));

    public static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    public void Dispose()
    {
        shell.Dispose();
        Directory.Delete(Folder, recursive: true);
    }
}
