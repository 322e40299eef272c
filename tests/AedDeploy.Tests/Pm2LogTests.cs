using AedDeploy.Engine;
using AedDeploy.Transport;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>Reading back what the app wrote to its PM2 log files after a mark, on real files with bash on this machine.</summary>
public sealed class Pm2LogTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("aed-pm2logs-").FullName;
    private readonly Pm2Client pm2 = new(new RemoteRunner(new LocalShell(), NullDeployLog.Instance), new AppTarget("/srv/app", "app", DeployLayout.Release));

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public async Task Shows_only_what_was_written_after_the_mark_with_the_errors_last_and_bounded()
    {
        var processes = Enumerable.Range(0, 2).Select(id => new Pm2Process
        {
            PmId = id,
            OutLogPath = Path.Combine(folder, $"app-out-{id}.log"),
            ErrorLogPath = Path.Combine(folder, $"app-error-{id}.log"),
        }).ToList();
        foreach (var process in processes)
        {
            File.WriteAllText(process.OutLogPath, "an old banner\n");
            File.WriteAllText(process.ErrorLogPath, "Error: an old crash, before the reload\n");
        }

        var marks = await pm2.MarkLogsAsync(processes, CancellationToken.None);
        foreach (var process in processes)
        {
            // A crash loop: every restart prints a banner on stdout and the same exception on stderr.
            for (var restart = 0; restart < 40; restart++)
            {
                File.AppendAllText(process.OutLogPath, $"  ▲ Next.js 16.4.6 restart {restart}\n  ✓ Ready in 400ms\n");
                File.AppendAllText(process.ErrorLogPath, $"Error: boom in worker {process.PmId}\n    at config (next.config.mjs:2:9)\n");
            }
        }

        var text = await pm2.ReadLogsSinceAsync(marks, CancellationToken.None);

        Assert.NotNull(text);
        Assert.DoesNotContain("old", text, StringComparison.Ordinal);
        Assert.Contains("Error: boom in worker 0", text, StringComparison.Ordinal);
        Assert.EndsWith("at config (next.config.mjs:2:9)", text, StringComparison.Ordinal);
        Assert.Contains("Error: boom in worker 1", text, StringComparison.Ordinal);
        Assert.Contains("restart 39", text, StringComparison.Ordinal);
        Assert.DoesNotContain("restart 30", text, StringComparison.Ordinal);
        Assert.True(text.Split('\n').Length <= AppOutputText.MaxLines && text.Length <= AppOutputText.MaxChars + 1, $"bounded: {text.Split('\n').Length} lines, {text.Length} chars");
    }

    [Fact]
    public async Task A_log_rotated_since_the_mark_is_read_from_its_start_and_nothing_new_is_null()
    {
        var process = new Pm2Process { OutLogPath = Path.Combine(folder, "out.log"), ErrorLogPath = Path.Combine(folder, "error.log") };
        File.WriteAllText(process.OutLogPath, new string('x', 500) + "\n");
        File.WriteAllText(process.ErrorLogPath, "quiet\n");
        var marks = await pm2.MarkLogsAsync([process], CancellationToken.None);

        Assert.Null(await pm2.ReadLogsSinceAsync(marks, CancellationToken.None));

        File.WriteAllText(process.OutLogPath, "after the rotation\n");
        Assert.Contains("after the rotation", await pm2.ReadLogsSinceAsync(marks, CancellationToken.None), StringComparison.Ordinal);
    }
}
