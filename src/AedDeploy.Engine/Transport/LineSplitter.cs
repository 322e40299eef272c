using System.Text;

namespace AedDeploy.Transport;

/// <summary>Reads a stream of command output as text, hands each complete line on as it arrives, and keeps the whole text.</summary>
internal static class LineSplitter
{
    public static async Task<string> PumpAsync(Stream stream, OutputStreamKind kind, Action<OutputLine>? onOutput)
    {
        var all = new StringBuilder();
        var pending = new StringBuilder();
        var decoder = Encoding.UTF8.GetDecoder();
        var bytes = new byte[8192];
        var chars = new char[Encoding.UTF8.GetMaxCharCount(bytes.Length)];
        int read;
        while ((read = await stream.ReadAsync(bytes).ConfigureAwait(false)) > 0)
        {
            var count = decoder.GetChars(bytes, 0, read, chars, 0);
            all.Append(chars, 0, count);
            Emit(chars.AsSpan(0, count), pending, kind, onOutput);
        }

        if (pending.Length > 0)
        {
            onOutput?.Invoke(new OutputLine(kind, pending.ToString()));
        }

        return all.ToString();
    }

    private static void Emit(ReadOnlySpan<char> text, StringBuilder pending, OutputStreamKind kind, Action<OutputLine>? onOutput)
    {
        foreach (var c in text)
        {
            if (c == '\n')
            {
                var line = pending.ToString().TrimEnd('\r');
                pending.Clear();
                onOutput?.Invoke(new OutputLine(kind, line));
            }
            else
            {
                pending.Append(c);
            }
        }
    }
}
