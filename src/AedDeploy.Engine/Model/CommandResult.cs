namespace AedDeploy;

/// <summary>The outcome of one command run on a deploy target.</summary>
public sealed partial class CommandResult
{
    public CommandResult(string hostName, string command, int exitStatus, string output, string error, TimeSpan duration)
    {
        HostName = hostName;
        Command = command;
        ExitStatus = exitStatus;
        Output = output;
        Error = error;
        Duration = duration;
    }

    public string HostName { get; }

    public string Command { get; }

    /// <summary>The exit status; 128 + n when the command was ended by signal n (as a shell reports it).</summary>
    public int ExitStatus { get; }

    public string Output { get; }

    public string Error { get; }

    public TimeSpan Duration { get; }

    public bool Succeeded => ExitStatus == 0;

    /// <summary>
    /// The last lines of output and of standard error, for error messages: tools such as next build print the
    /// cause on one stream and the verdict on the other.
    /// </summary>
    public string Tail(int lines = 20) =>
        StripAnsi(string.Join('\n', new[] { Output, Error }.Where(text => !string.IsNullOrWhiteSpace(text)).Select(text => LastLines(text, lines))));

    /// <summary>Removes terminal colour and cursor codes (PM2 and npm print them), so messages and history stay plain text.</summary>
    public static string StripAnsi(string text) => AnsiPattern().Replace(text, string.Empty);

    [System.Text.RegularExpressions.GeneratedRegex(@"\x1b\[[0-9;?]*[A-Za-z]")]
    private static partial System.Text.RegularExpressions.Regex AnsiPattern();

    private static string LastLines(string text, int count)
    {
        var all = text.TrimEnd().Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - count)));
    }
}
