using System.Reflection;
using System.Text.RegularExpressions;
using AedDeploy.Engine;
using AedDeploy.Transport;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>
/// Script answers with the app's noise around them. The parsing is tested on its own; the channel (fd 3) is
/// tested by running the real embedded scripts with bash and node on this machine through LocalShell, with
/// app files that print on load the way real ones do (dotenv 17's line, JSON loggers, a child process).
/// </summary>
public sealed partial class RemoteAnswerTests : IDisposable
{
    // Loaded by the scripts as the app's ecosystem file: prints on stdout and stderr, JSON included, a line
    // without its newline, and from a child process that shares its stdout, before exporting the app.
    private const string NoisyEcosystem = """
        console.log('[dotenv@17.2.3] injecting env (3) from .env -- tip: encrypt with dotenvx');
        console.log(JSON.stringify({ found: false, envKeys: ['FORGED'], waitReady: false, listenTimeout: 1, nodeArgs: [], cwd: '/forged' }));
        console.error('{"level":"info","msg":"ecosystem loaded"}');
        require('node:child_process').execSync('echo "{\\"passed\\":true,\\"from\\":\\"child\\"}"', { stdio: 'inherit' });
        process.stdout.write('a line without its newline');
        module.exports = {
          apps: [{ name: 'app', script: 'server.js', wait_ready: true, listen_timeout: 4000, node_args: ['-r', './ready.cjs'], env: { SECRET_TOKEN: 'hunter2', PORT: '1' } }],
        };
        """;

    private readonly string folder = Directory.CreateTempSubdirectory("aed-answer-").FullName;
    private readonly RecordingLog log = new();

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void A_JSON_answer_with_noise_is_an_error_naming_the_script_with_a_bounded_tail()
    {
        var noise = string.Join('\n', Enumerable.Range(0, 500).Select(i => $"app line {i} " + new string('x', 100)));
        var result = new CommandResult("host", "inspect-ecosystem.js", 0, "[dotenv@17.2.3] injecting env (3) from .env\n{\"found\":true}\n", noise, TimeSpan.Zero);

        var error = Assert.Throws<AedDeployException>(() => RemoteAnswer.Deserialize<EcosystemInfo>(result, "inspect-ecosystem.js", ReleaseStore.JsonOptions));

        Assert.Equal("RemoteAnswerInvalid", error.ErrorId);
        Assert.Equal(FailureKind.InvalidResult, error.Kind);
        Assert.Contains("inspect-ecosystem.js on host", error.Message, StringComparison.Ordinal);
        Assert.Contains("app line 499", error.Message, StringComparison.Ordinal);
        Assert.True(error.Message.Length < 2600, $"the message is bounded ({error.Message.Length} chars)");
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"checks\": 3}")]
    [InlineData("{\"buildId\": 1, \"checks\": []}")]
    [InlineData("[1, 2]")]
    [InlineData("{\"buildId\": \"b\"}\n{\"buildId\": \"c\"}")]
    public void An_answer_of_another_shape_is_RemoteAnswerInvalid_not_a_raw_exception(string answer)
    {
        var result = new CommandResult("host", "inspect-build.js", 0, answer, string.Empty, TimeSpan.Zero);

        var error = Assert.Throws<AedDeployException>(() => RemoteAnswer.Json(result, "inspect-build.js", root => (root.GetProperty("buildId").GetString(), root.GetProperty("checks").EnumerateArray().Count())));

        Assert.Equal("RemoteAnswerInvalid", error.ErrorId);
    }

    [Theory]
    [InlineData("abc\n", 2)]
    [InlineData("abc\ndef\nghi\n", 2)]
    [InlineData("", 1)]
    public void An_answer_with_another_number_of_lines_is_RemoteAnswerInvalid(string answer, int count)
    {
        var result = new CommandResult("host", "fetch-inplace.sh", 0, answer, string.Empty, TimeSpan.Zero);

        Assert.Equal("RemoteAnswerInvalid", Assert.Throws<AedDeployException>(() => RemoteAnswer.Lines(result, "fetch-inplace.sh", count)).ErrorId);
    }

    [Fact]
    public void An_empty_last_line_is_a_value()
    {
        var result = new CommandResult("host", "fetch-inplace.sh", 0, "0123abc\n\n", string.Empty, TimeSpan.Zero);

        Assert.Equal(["0123abc", string.Empty], RemoteAnswer.Lines(result, "fetch-inplace.sh", 2));
    }

    [Fact]
    public async Task An_ecosystem_file_that_prints_is_read_for_what_it_defines_and_its_lines_are_logged()
    {
        File.WriteAllText(Path.Combine(folder, "ecosystem.config.cjs"), NoisyEcosystem);
        var pm2 = new Pm2Client(new RemoteRunner(new LocalShell(), log), new AppTarget(folder, "app", DeployLayout.Release));

        var ecosystem = await pm2.InspectEcosystemAsync(folder, CancellationToken.None);

        Assert.NotNull(ecosystem);
        Assert.True(ecosystem.Found);
        Assert.Equal(["SECRET_TOKEN", "PORT"], ecosystem.EnvKeys);
        Assert.True(ecosystem.WaitReady);
        Assert.Equal(4000, ecosystem.ListenTimeout);
        Assert.Equal(["-r", "./ready.cjs"], ecosystem.NodeArgs);
        Assert.Contains(log.Lines, l => l.Contains("[dotenv@17.2.3] injecting env (3) from .env", StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.Contains("\"cwd\":\"/forged\"", StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.Contains("ecosystem loaded", StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.Contains("\"from\":\"child\"", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Lines, l => l.Contains("hunter2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_release_that_prints_on_load_passes_its_boot_test()
    {
        File.WriteAllText(Path.Combine(folder, "ecosystem.config.cjs"), NoisyEcosystem);
        File.WriteAllText(Path.Combine(folder, "server.js"), """
            console.log('{"passed":false,"detail":"forged by the app"}');
            require('node:http').createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
            """);
        using var session = DeploySession.OpenLocal();

        var detail = await new BootTester(session, new AppTarget(folder, "app", DeployLayout.Release), log)
            .RequireBootAsync(folder, "/", 200, TimeSpan.FromSeconds(20), CancellationToken.None);

        Assert.StartsWith("HTTP 200 from /", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_release_that_throws_at_boot_fails_its_boot_test_with_its_own_error_text()
    {
        File.WriteAllText(Path.Combine(folder, "ecosystem.config.cjs"), NoisyEcosystem);
        File.WriteAllText(Path.Combine(folder, "server.js"), """
            console.log('{"passed":true,"detail":"forged by the app"}');
            throw new Error('fixture boom: the database URL is missing');
            """);
        using var session = DeploySession.OpenLocal();

        var error = await Assert.ThrowsAsync<AedDeployException>(() => new BootTester(session, new AppTarget(folder, "app", DeployLayout.Release), log)
            .RequireBootAsync(folder, "/", 200, TimeSpan.FromSeconds(20), CancellationToken.None));

        Assert.Equal("BootTestFailed", error.ErrorId);
        Assert.Contains("exited at boot", error.Message, StringComparison.Ordinal);
        Assert.NotNull(error.AppOutput);
        Assert.Contains("fixture boom: the database URL is missing", error.AppOutput, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.AppOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_shell_script_answers_on_fd_3_whatever_its_tools_print()
    {
        // fetch-inplace.sh in a checkout without a lockfile: two answer lines, the second empty (the old
        // parse took the last two lines of stdout and failed on this), while git prints to the log.
        var origin = Path.Combine(folder, "origin");
        var work = Path.Combine(folder, "work");
        var shell = new LocalShell();
        var setup = await shell.RunAsync(
            $$"""
            set -e
            git init -q -b main {{ShellQuote.Quote(origin)}} && cd {{ShellQuote.Quote(origin)}}
            git -c user.name=t -c user.email=t@t commit -q --allow-empty -m one
            git clone -q {{ShellQuote.Quote(origin)}} {{ShellQuote.Quote(work)}}
            echo 'echo "{\"noise\": true}"; echo noise >&2' > {{ShellQuote.Quote(work)}}/.git/hooks/reference-transaction
            chmod +x {{ShellQuote.Quote(work)}}/.git/hooks/reference-transaction
            git rev-parse HEAD
            """, TimeSpan.FromSeconds(30), null, CancellationToken.None);
        Assert.True(setup.Succeeded, setup.Tail());

        var result = await new RemoteRunner(shell, log).RunScriptAsync("fetch-inplace.sh", [work, "main"], CancellationToken.None);

        Assert.True(result.Succeeded, result.Tail());
        Assert.Equal([setup.Output.Trim(), string.Empty], RemoteAnswer.Lines(result, "fetch-inplace.sh", 2));
        Assert.Contains("{\"noise\": true}", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_exit_code_a_script_gives_is_named_in_ScriptExitCodes_and_every_name_is_used_by_its_scripts()
    {
        var scripts = new Dictionary<string, string[]>
        {
            ["Fetch"] = ["fetch-release.sh", "fetch-inplace.sh"],
            ["BuildApp"] = ["build-app.sh"],
            ["ClearNginxCache"] = ["clear-nginx-cache.sh"],
            ["RestoreInPlace"] = ["restore-inplace.sh"],
            ["InspectEcosystem"] = ["inspect-ecosystem.js"],
            ["Lock"] = ["lock.sh"],
            ["PackRelease"] = ["pack-release.sh"],
            ["StreamRelease"] = ["stream-release.sh"],
            ["ReceiveRelease"] = ["receive-release.sh"],
            ["IdentifyBuild"] = ["identify-build.js"],
            ["PoolStatic"] = ["pool-static.sh"],
        };
        var classes = typeof(ScriptExitCodes).GetNestedTypes(BindingFlags.NonPublic | BindingFlags.Public);
        Assert.Equal(scripts.Keys.Order(), classes.Select(c => c.Name).Order());
        foreach (var type in classes)
        {
            var declared = type.GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (int)f.GetRawConstantValue()!).Order().ToList();
            var used = scripts[type.Name].SelectMany(name => ExitCode().Matches(RemoteScripts.Get(name)))
                .Select(m => int.Parse(m.Groups["code"].Value, System.Globalization.CultureInfo.InvariantCulture))
                .Where(code => code >= 2).Distinct().Order().ToList();
            Assert.True(declared.SequenceEqual(used), $"{type.Name}: declared {string.Join(",", declared)}, the scripts use {string.Join(",", used)}");
        }
    }

    [GeneratedRegex(@"(?:\bexit |process\.exit\(|exitCode = )(?<code>\d+)")]
    private static partial Regex ExitCode();

    private sealed class RecordingLog : IDeployLog
    {
        public List<string> Lines { get; } = [];

        public void Verbose(string message)
        {
            lock (Lines)
            {
                Lines.Add(message);
            }
        }

        public void Information(string message, string tag)
        {
        }

        public void Warning(string message) => Verbose(message);

        public void Progress(string activity, string status, int percent)
        {
        }
    }
}
