using System.Globalization;
using System.Text;

namespace AedDeploy.Transport;

/// <summary>
/// The one place where values become part of a remote shell command. Every value is single-quoted
/// so that the shell passes it on literally, whatever it contains.
/// </summary>
public static class ShellQuote
{
    /// <summary>Quotes a value for POSIX shells: <c>it's</c> becomes <c>'it'\''s'</c>.</summary>
    public static string Quote(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.IndexOf('\0') >= 0)
        {
            throw new AedDeployException(
                "ShellValueContainsNul", FailureKind.InvalidArgument,
                "A value sent to the remote shell contains a NUL character, which no shell can pass on.", value);
        }

        return "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }

    /// <summary>
    /// Builds a command from an interpolated string, quoting every interpolated value
    /// (except <see cref="ShellFragment"/>s, which are trusted command text built by this code).
    /// </summary>
    public static string Format(FormattableString command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var args = command.GetArguments();
        var quoted = new object?[args.Length];
        for (var i = 0; i < args.Length; i++)
        {
            quoted[i] = args[i] switch
            {
                ShellFragment fragment => fragment.Text,
                null => Quote(string.Empty),
                IFormattable formattable when args[i] is not string => Quote(formattable.ToString(null, CultureInfo.InvariantCulture)),
                var other => Quote(other.ToString() ?? string.Empty),
            };
        }

        return string.Format(CultureInfo.InvariantCulture, command.Format, quoted);
    }

    /// <summary>Quotes each value and joins them with spaces, for argument lists.</summary>
    public static string Join(IEnumerable<string> values)
    {
        var builder = new StringBuilder();
        foreach (var value in values)
        {
            if (builder.Length > 0)
            {
                builder.Append(' ');
            }

            builder.Append(Quote(value));
        }

        return builder.ToString();
    }
}

/// <summary>Command text that <see cref="ShellQuote.Format"/> inserts as it is, because this code built it.</summary>
public sealed record ShellFragment(string Text)
{
    public override string ToString() => Text;
}
