using System.Text.Json;

namespace AedDeploy.Engine;

/// <summary>
/// Reads what a script answered. The scripts that run the app's code (its ecosystem file, npm scripts, next
/// build) or tools that print answer on their own channel (file descriptor 3, which the command makes its
/// stdout, with everything else on stderr: see RemoteScripts and lib.sh), so the answer is never mixed with
/// what the app printed. An answer that still cannot be read (a script cut short, a tool that wrote to it) is
/// a <c>RemoteAnswerInvalid</c> error naming the script with a bounded tail of what came back, never a raw
/// parse exception that no caller catches (that skipped the rollback).
/// </summary>
internal static class RemoteAnswer
{
    public const string InvalidErrorId = "RemoteAnswerInvalid";

    private const int TailLines = 12;
    private const int TailChars = 2000;

    /// <summary>The answer as one JSON value, read by <paramref name="read"/>; any shape it does not expect is invalid.</summary>
    public static T Json<T>(CommandResult result, string script, Func<JsonElement, T> read)
    {
        try
        {
            using var document = JsonDocument.Parse(result.Output);
            return read(document.RootElement);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw Invalid(result, script, $"it is not the JSON the script writes ({FirstLine(ex.Message)})");
        }
    }

    /// <summary>The answer deserialized as <typeparamref name="T"/>.</summary>
    public static T Deserialize<T>(CommandResult result, string script, JsonSerializerOptions options) =>
        Json(result, script, root => root.Deserialize<T>(options) ?? throw new JsonException("null"));

    /// <summary>The answer's lines, exactly <paramref name="count"/> of them (an empty line is a value too).</summary>
    public static IReadOnlyList<string> Lines(CommandResult result, string script, int count)
    {
        var lines = SplitLines(result.Output);
        return lines.Count == count ? lines : throw Invalid(result, script, $"{lines.Count} line(s) where it writes {count}");
    }

    /// <summary>The answer's lines, as many as the script wrote.</summary>
    public static IReadOnlyList<string> SplitLines(string answer)
    {
        if (answer.Length == 0)
        {
            return [];
        }

        var lines = answer.Split('\n');
        return (answer.EndsWith('\n') ? lines[..^1] : lines).Select(l => l.TrimEnd('\r')).ToList();
    }

    public static AedDeployException Invalid(CommandResult result, string script, string problem) =>
        new(InvalidErrorId, FailureKind.InvalidResult,
            $"The answer of {script} on {result.HostName} cannot be read: {problem}. What came back (the answer first, then the log):\n{BoundedTail(result)}",
            script);

    /// <summary>The last lines of the answer and of the log, at most <see cref="TailChars"/> characters.</summary>
    internal static string BoundedTail(CommandResult result)
    {
        var tail = result.Tail(TailLines);
        return tail.Length <= TailChars ? tail : "…" + tail[^TailChars..];
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
