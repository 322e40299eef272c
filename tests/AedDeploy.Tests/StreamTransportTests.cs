using System.Security.Cryptography;
using AedDeploy.Engine;
using AedDeploy.Transport;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>
/// Byte streams through the transport (RunWithInputAsync, RunToStreamAsync) with a real bash through LocalShell:
/// whole and unchanged, the exit status of a command that stops early, cancellation, timeouts and failing streams.
/// </summary>
public sealed class StreamTransportTests : IDisposable
{
    private const int FiftyMiB = 50 * 1024 * 1024;
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    private readonly LocalShell shell = new();
    private readonly string folder = Directory.CreateTempSubdirectory("aed-stream-").FullName;

    public void Dispose()
    {
        shell.Dispose();
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public async Task Fifty_MiB_of_input_reach_the_command_whole()
    {
        var bytes = new byte[FiftyMiB];
        new Random(13).NextBytes(bytes);
        using var input = new MemoryStream(bytes);

        var result = await shell.RunWithInputAsync("sha256sum", input, Timeout, null, CancellationToken.None);

        Assert.Equal(0, result.ExitStatus);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant(), result.Output.Split(' ')[0]);
    }

    [Fact]
    public async Task Fifty_MiB_of_output_arrive_as_the_command_wrote_them()
    {
        using var output = new HashingStream();

        var result = await shell.RunToStreamAsync($"head -c {FiftyMiB} /dev/urandom | tee >(sha256sum >&2)", output, Timeout, null, CancellationToken.None);

        Assert.Equal(0, result.ExitStatus);
        Assert.Equal(FiftyMiB, output.Length);
        Assert.Equal(result.Error.Split(' ')[0], output.Hash());
        Assert.Equal(string.Empty, result.Output);
    }

    [Fact]
    public async Task An_empty_input_ends_at_once()
    {
        var result = await shell.RunWithInputAsync("wc -c", Stream.Null, TimeSpan.FromSeconds(10), null, CancellationToken.None);

        Assert.Equal("0", result.Output.Trim());
    }

    [Fact]
    public async Task A_command_that_exits_before_reading_all_its_input_gives_its_exit_status()
    {
        using var input = new EndlessStream();

        var result = await shell.RunWithInputAsync("head -c 1000000 >/dev/null; echo stopped >&2; exit 7", input, Timeout, null, CancellationToken.None);

        Assert.Equal(7, result.ExitStatus);
        Assert.Equal("stopped\n", result.Error);
    }

    [Fact]
    public async Task A_command_that_fails_after_part_of_its_output_gives_its_exit_status_and_those_bytes()
    {
        using var output = new HashingStream();

        var result = await shell.RunToStreamAsync("head -c 1048576 /dev/zero; echo broken >&2; exit 5", output, Timeout, null, CancellationToken.None);

        Assert.Equal(5, result.ExitStatus);
        Assert.Equal(1048576, output.Length);
        Assert.Equal("broken\n", result.Error);
    }

    [Fact]
    public async Task Cancelling_while_input_streams_ends_the_command()
    {
        using var input = new EndlessStream();
        using var cancel = new CancellationTokenSource();
        var pid = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);

        var run = shell.RunWithInputAsync("echo $$ >&2; exec cat >/dev/null", input, Timeout, line => pid.TrySetResult(int.Parse(line.Text)), cancel.Token);
        var process = await pid.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await WaitUntilAsync(() => input.Position > 4 * 1024 * 1024, "input flows");
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        await WaitUntilAsync(() => !Directory.Exists($"/proc/{process}"), $"process {process} ends");
    }

    [Fact]
    public async Task Cancelling_while_output_streams_ends_the_command()
    {
        using var output = new HashingStream();
        using var cancel = new CancellationTokenSource();
        var pid = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);

        var run = shell.RunToStreamAsync("echo $$ >&2; exec cat /dev/zero", output, Timeout, line => pid.TrySetResult(int.Parse(line.Text)), cancel.Token);
        var process = await pid.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await WaitUntilAsync(() => output.Length > 4 * 1024 * 1024, "output flows");
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        await WaitUntilAsync(() => !Directory.Exists($"/proc/{process}"), $"process {process} ends");
    }

    [Fact]
    public async Task A_command_that_stops_reading_is_stopped_at_its_timeout()
    {
        using var input = new EndlessStream();

        var error = await Assert.ThrowsAsync<AedDeployException>(
            () => shell.RunWithInputAsync("sleep 30", input, TimeSpan.FromMilliseconds(500), null, CancellationToken.None));

        Assert.Equal("RemoteCommandTimeout", error.ErrorId);
        Assert.Equal(FailureKind.Timeout, error.Kind);
    }

    [Fact]
    public async Task An_input_that_fails_stops_the_command_before_it_sees_an_end_of_input()
    {
        using var input = new FailingInputStream(1024 * 1024);
        var done = Path.Combine(folder, "done");
        var pid = 0;

        var error = await Assert.ThrowsAsync<AedDeployException>(() => shell.RunWithInputAsync(
            $"echo $$ >&2; cat >/dev/null; touch '{done}'", input, Timeout, line => pid = int.Parse(line.Text), CancellationToken.None));

        Assert.Equal("CommandInputReadFailed", error.ErrorId);
        Assert.Contains("disk gone", error.Message, StringComparison.Ordinal);
        await WaitUntilAsync(() => pid != 0 && !Directory.Exists($"/proc/{pid}"), "the command ends");
        Assert.False(File.Exists(done), "the command saw an end of input after a failed read");
    }

    [Fact]
    public async Task An_output_that_fails_stops_the_command()
    {
        using var output = new FailingOutputStream(1024 * 1024);
        var pid = 0;

        var error = await Assert.ThrowsAsync<AedDeployException>(() => shell.RunToStreamAsync(
            "echo $$ >&2; exec cat /dev/zero", output, Timeout, line => pid = int.Parse(line.Text), CancellationToken.None));

        Assert.Equal("CommandOutputWriteFailed", error.ErrorId);
        await WaitUntilAsync(() => pid != 0 && !Directory.Exists($"/proc/{pid}"), "the command ends");
    }

    [Fact]
    public async Task The_runner_passes_arguments_and_logs_the_streamed_commands()
    {
        var log = new RecordingLog();
        var runner = new RemoteRunner(shell, log);
        var path = Path.Combine(folder, "it's a file");
        var bytes = new byte[300_000];
        new Random(7).NextBytes(bytes);

        using (var input = new MemoryStream(bytes))
        {
            var written = await runner.RunWithInputAsync("cat > \"$1\"", input, CancellationToken.None, arguments: [path]);
            Assert.Equal(0, written.ExitStatus);
        }

        using var output = new HashingStream();
        var read = await runner.RunToStreamAsync("cat -- \"$1\"", output, CancellationToken.None, arguments: [path]);

        Assert.Equal(0, read.ExitStatus);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(path));
        Assert.Equal(Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant(), output.Hash());
        Assert.Contains(log.Lines, line => line.Contains("cat > \"$1\"", StringComparison.Ordinal) && line.Contains("stdin from a stream", StringComparison.Ordinal));
        Assert.Contains(log.Lines, line => line.Contains("cat -- \"$1\"", StringComparison.Ordinal) && line.Contains("stdout to a stream", StringComparison.Ordinal));
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting until {what}.");
            await Task.Delay(20);
        }
    }

    /// <summary>Zeros without end, counting what was read.</summary>
    private sealed class EndlessStream : Stream
    {
        private long position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => Interlocked.Read(ref position);
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            Array.Clear(buffer, offset, count);
            Interlocked.Add(ref position, count);
            return count;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Zeros up to a point, then the read fails as a dying disk would.</summary>
    private sealed class FailingInputStream(long failAt) : Stream
    {
        private long position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (position >= failAt)
            {
                throw new IOException("disk gone");
            }

            var n = (int)Math.Min(count, failAt - position);
            Array.Clear(buffer, offset, n);
            position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Takes bytes up to a point, then the write fails as a full disk would.</summary>
    private sealed class FailingOutputStream(long failAt) : WriteOnlyStream
    {
        private long written;

        public override void Write(byte[] buffer, int offset, int count)
        {
            if (written + count > failAt)
            {
                throw new IOException("No space left on device");
            }

            written += count;
        }
    }

    /// <summary>Hashes and counts what is written to it, keeping nothing.</summary>
    private sealed class HashingStream : WriteOnlyStream
    {
        private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long length;

        public override long Length => Interlocked.Read(ref length);

        public override void Write(byte[] buffer, int offset, int count)
        {
            hash.AppendData(buffer, offset, count);
            Interlocked.Add(ref length, count);
        }

        public string Hash() => Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                hash.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    private abstract class WriteOnlyStream : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }

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
