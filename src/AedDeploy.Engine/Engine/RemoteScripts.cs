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
    /// <remarks>
    /// Answers travel on file descriptor 3, never on stdout: some scripts load the app's own code (its
    /// ecosystem file, its npm scripts), and an app prints when it is loaded (dotenv 17 does by default, JSON
    /// loggers print JSON lines). Every node script gets fd 3 as the command's stdout and its stdout and stderr
    /// on the command's stderr (logged, never parsed); a shell script opts in with lib.sh's answer_channel.
    /// A separate descriptor was chosen over a per-call marker in stdout because the app cannot end up in the
    /// middle of an answer line either (a partial line it printed without a newline), and the answer needs no
    /// unescaping. Node does not pass fd 3 on to the processes it starts, so the app's workers never hold it.
    /// </remarks>
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

        return $"node - \"$@\" 3>&1 1>&2 <<'{HeredocEnd}'\n{script}\n{HeredocEnd}";
    }
}
