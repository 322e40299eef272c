using System.Reflection;

namespace AedDeploy.Engine;

/// <summary>The scripts under Engine/Scripts, embedded in the assembly and run on the server.</summary>
internal static class RemoteScripts
{
    private const string HeredocEnd = "AEDDEPLOY_SCRIPT_END";

    public static string Get(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("AedDeploy.Scripts." + name)
            ?? throw new InvalidOperationException($"The embedded script {name} is missing from the build.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// The command that runs an embedded script with the positional parameters as its arguments:
    /// a node script through a quoted heredoc, a shell script with lib.sh in front of it.
    /// </summary>
    public static string Command(string name) =>
        name.EndsWith(".js", StringComparison.Ordinal) ? NodeCommand(name) : Get("lib.sh") + "\n" + Get(name);

    /// <summary>A bash command that runs an embedded node script with the positional parameters as its arguments.</summary>
    private static string NodeCommand(string name)
    {
        var script = Get(name);
        if (script.Contains(HeredocEnd, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"The embedded script {name} contains the heredoc marker.");
        }

        return $"node - \"$@\" <<'{HeredocEnd}'\n{script}\n{HeredocEnd}";
    }
}
