using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>Completes -AppName from the apps PM2 runs on the target of the -Session already typed.</summary>
public sealed class AppNameCompleter : IArgumentCompleter
{
    private static readonly TimeSpan CompletionTimeout = TimeSpan.FromSeconds(5);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var value = fakeBoundParameters["Session"];
        if ((value is PSObject wrapped ? wrapped.BaseObject : value) is not DeploySession { State: SessionState.Open } session)
        {
            return [];
        }

        var pm2 = fakeBoundParameters["Pm2Path"] as string ?? "pm2";
        try
        {
            using var timeout = new CancellationTokenSource(CompletionTimeout);
            var names = Pm2Client.ListAppNamesAsync(new RemoteRunner(session, NullDeployLog.Instance), pm2, timeout.Token).GetAwaiter().GetResult();
            return names.Where(name => name.StartsWith(wordToComplete, StringComparison.OrdinalIgnoreCase))
                .Select(name => new CompletionResult(name, name, CompletionResultType.ParameterValue, $"PM2 app {name} on {session.HostName}"));
        }
        catch (Exception ex) when (ex is AedDeployException or OperationCanceledException)
        {
            // Completion offers nothing when the target cannot answer in time.
            return [];
        }
    }
}
