using System.Text.RegularExpressions;

namespace AedDeploy;

/// <summary>
/// Validation of the names that end up in paths and commands on the server. Values are quoted anyway;
/// validation catches the mistakes and attacks early, with a message that says what is allowed.
/// </summary>
public static partial class Names
{
    /// <summary>A PM2 app name: letters, digits, dot, dash, underscore; 1–64 characters; not starting with a dot or dash.</summary>
    public static string ValidateAppName(string? name)
    {
        if (string.IsNullOrEmpty(name) || !SafeNamePattern().IsMatch(name))
        {
            throw new AedDeployException(
                "InvalidAppName", FailureKind.InvalidArgument,
                $"'{Printable(name)}' is not a valid app name. Use 1-64 letters, digits, '.', '-' or '_', starting with a letter or digit (as in 'pm2 list').",
                name);
        }

        return name;
    }

    /// <summary>A release id: the folder name under releases/.</summary>
    public static string ValidateReleaseId(string? id)
    {
        if (string.IsNullOrEmpty(id) || !SafeNamePattern().IsMatch(id))
        {
            throw new AedDeployException(
                "InvalidReleaseId", FailureKind.InvalidArgument,
                $"'{Printable(id)}' is not a valid release id. Use 1-64 letters, digits, '.', '-' or '_', starting with a letter or digit.",
                id);
        }

        return id;
    }

    /// <summary>
    /// A git ref (branch, tag or commit) following git's check-ref-format rules, stricter where a shell
    /// or git itself could misread it: no leading '-', no whitespace or shell metacharacters.
    /// </summary>
    public static string ValidateGitRef(string? gitRef)
    {
        if (string.IsNullOrEmpty(gitRef) || gitRef.Length > 200 || !GitRefPattern().IsMatch(gitRef)
            || gitRef.StartsWith('-') || gitRef.StartsWith('/') || gitRef.EndsWith('/') || gitRef.EndsWith('.')
            || gitRef.EndsWith(".lock", StringComparison.Ordinal) || gitRef.Contains("..", StringComparison.Ordinal)
            || gitRef.Contains("//", StringComparison.Ordinal) || gitRef.Contains("@{", StringComparison.Ordinal)
            || gitRef.Contains("/.", StringComparison.Ordinal) || gitRef == "@")
        {
            throw new AedDeployException(
                "InvalidGitRef", FailureKind.InvalidArgument,
                $"'{Printable(gitRef)}' is not a valid branch, tag or commit. Use letters, digits and '/', '.', '-', '_', '+' as git allows (no spaces, quotes, ';', '$', '`', '..', or a leading '-').",
                gitRef);
        }

        return gitRef;
    }

    /// <summary>An absolute server path without components that walk out of it, or characters that have no place in a path we own.</summary>
    public static string ValidateRemotePath(string? path, string what)
    {
        if (string.IsNullOrEmpty(path) || !path.StartsWith('/') || path.Contains('\n') || path.Contains('\r') || path.Contains('\0')
            || path.Split('/').Any(part => part == ".."))
        {
            throw new AedDeployException(
                "InvalidRemotePath", FailureKind.InvalidArgument,
                $"{what} '{Printable(path)}' must be an absolute path on the server (starting with '/', without '..' or line breaks).",
                path);
        }

        return path.Length > 1 ? path.TrimEnd('/') : path;
    }

    /// <summary>Shows a value in a message without letting control characters garble the terminal.</summary>
    internal static string Printable(string? value) =>
        value is null ? "(null)" : Regex.Replace(value, @"\p{Cc}", m => $"\\x{(int)m.Value[0]:x2}");

    // App names and release ids share one rule: safe as a file name and as a PM2 name.
    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex SafeNamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9._/+-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex GitRefPattern();
}
