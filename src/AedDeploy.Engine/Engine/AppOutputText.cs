namespace AedDeploy.Engine;

/// <summary>
/// Bounds the app's own output for <see cref="AedDeployException.AppOutput"/> and the deploy record: enough of
/// its end to read the app's exception without logging in to the server, short enough for a message and a
/// history line.
/// </summary>
internal static class AppOutputText
{
    public const int MaxLines = 50;
    public const int MaxChars = 4000;

    /// <summary>The last <see cref="MaxLines"/> lines and <see cref="MaxChars"/> characters, without colour codes; null when there is nothing.</summary>
    public static string? Bound(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var lines = CommandResult.StripAnsi(text).TrimEnd().Split('\n');
        var kept = string.Join('\n', lines.Skip(Math.Max(0, lines.Length - MaxLines)));
        return kept.Length <= MaxChars ? kept : "…" + kept[^MaxChars..];
    }
}
