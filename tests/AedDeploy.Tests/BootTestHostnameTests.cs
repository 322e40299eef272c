using AedDeploy.Engine;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>
/// boot-test.js run for real through a local session: a fleet host's app binds 0.0.0.0 or its own address, and
/// the boot test must still start the new release on 127.0.0.1, where it probes, with the app's other arguments kept.
/// </summary>
public sealed class BootTestHostnameTests : IDisposable
{
    // Listens where its hostname argument says, as `next start` does, and answers 200 only when it was given exactly
    // one hostname, 127.0.0.1, and the argument after it survived; otherwise 421 with what it was given.
    private const string Server = """
        const argv = process.argv.slice(2);
        const hosts = [];
        for (let i = 0; i < argv.length; i++) {
          if (argv[i] === '-H' || argv[i] === '--hostname') hosts.push(argv[++i]);
          else if (argv[i].startsWith('--hostname=')) hosts.push(argv[i].slice('--hostname='.length));
          else if (/^-H./.test(argv[i])) hosts.push(argv[i].slice(2));
        }
        const good = hosts.length === 1 && hosts[0] === '127.0.0.1' && argv.includes('--keepAliveTimeout') && argv.includes('start');
        require('node:http').createServer((req, res) => { res.statusCode = good ? 200 : 421; res.end(argv.join(' ')); })
          .listen(Number(process.env.PORT), hosts[0] || '127.0.0.1');
        """;

    private readonly string folder = Directory.CreateTempSubdirectory("aed-boothost-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Theory]
    [InlineData("'start --hostname 0.0.0.0 --keepAliveTimeout 5000'")]
    [InlineData("'start -H 127.0.0.2 --keepAliveTimeout 5000 -p 3000'")]
    [InlineData("'start --hostname=10.0.0.7 --keepAliveTimeout 5000'")]
    [InlineData("'start -H127.0.0.2 --port=3000 --keepAliveTimeout 5000'")]
    [InlineData("['start', '--hostname', '192.168.1.20', '--keepAliveTimeout', '5000']")]
    [InlineData("'start --hostname 127.0.0.1 --keepAliveTimeout 5000'")]
    public async Task A_hostname_argument_is_replaced_by_the_boot_tests_own_address(string args)
    {
        File.WriteAllText(Path.Combine(folder, "ecosystem.config.cjs"),
            $"module.exports = {{ apps: [{{ name: 'app', script: 'server.js', args: {args} }}] }};\n");
        File.WriteAllText(Path.Combine(folder, "server.js"), Server);
        using var session = DeploySession.OpenLocal();

        var detail = await new BootTester(session, new AppTarget(folder, "app", DeployLayout.Release), NullDeployLog.Instance)
            .RequireBootAsync(folder, "/", 200, TimeSpan.FromSeconds(20), CancellationToken.None);

        Assert.StartsWith("HTTP 200 from /", detail, StringComparison.Ordinal);
    }
}
