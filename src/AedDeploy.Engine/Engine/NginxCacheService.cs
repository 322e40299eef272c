using System.Diagnostics;
using System.Globalization;

namespace AedDeploy.Engine;

/// <summary>Empties nginx's proxy cache and reloads nginx when its configuration is valid (Clear-NginxCache).</summary>
public sealed class NginxCacheService(DeploySession session, IDeployLog log)
{
    public const string DefaultTestCommand = "sudo -n nginx -t";
    public const string DefaultReloadCommand = "sudo -n nginx -s reload";
    private static readonly TimeSpan ClearTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Clears the cache; a failure is returned in the result (the caller decides whether it is fatal). Without
    /// <paramref name="reload"/> only the files are deleted (a missing file is a miss), and nginx is neither
    /// tested nor reloaded: a reload closes idle keep-alive connections, and a client sending on one just then
    /// gets a reset.
    /// </summary>
    public async Task<CacheClearResult> ClearAsync(string cachePath, string testCommand, string reloadCommand, CancellationToken cancellationToken, bool reload = true)
    {
        var path = Names.ValidateRemotePath(cachePath, "The cache path");
        if (path.Split('/', StringSplitOptions.RemoveEmptyEntries).Length < 2)
        {
            throw new AedDeployException(
                "CachePathTooBroad", FailureKind.InvalidArgument,
                $"'{path}' is too near the root to be an nginx cache folder: every file under it would be deleted. Give the proxy_cache_path folder itself.",
                path);
        }

        var stopwatch = Stopwatch.StartNew();
        var runner = new RemoteRunner(session, log);
        var result = await runner.RunScriptAsync("clear-nginx-cache.sh", [path, reload ? testCommand : string.Empty, reload ? reloadCommand : string.Empty], cancellationToken, ClearTimeout)
            .ConfigureAwait(false);
        // The answer (fd 3): 'removed <n>', then 'reloaded'; what nginx printed is in the log.
        var removedLine = RemoteAnswer.SplitLines(result.Output).FirstOrDefault(l => l.StartsWith("removed ", StringComparison.Ordinal));
        var removed = 0;
        if (removedLine is not null && !int.TryParse(removedLine[8..], NumberStyles.None, CultureInfo.InvariantCulture, out removed))
        {
            throw RemoteAnswer.Invalid(result, "clear-nginx-cache.sh", $"'{Names.Printable(removedLine)}' is not a count of files");
        }

        var problem = result.ExitStatus switch
        {
            0 => null,
            ScriptExitCodes.ClearNginxCache.NoCacheFolder => $"the cache folder {path} does not exist on {session.HostName}",
            ScriptExitCodes.ClearNginxCache.ConfigurationRejected => $"'{testCommand}' rejected the nginx configuration, so nginx was not reloaded:\n{result.Tail(10)}",
            ScriptExitCodes.ClearNginxCache.ReloadFailed => $"'{reloadCommand}' failed:\n{result.Tail(5)}",
            _ => $"clearing the cache failed (exit {result.ExitStatus}):\n{result.Tail(5)}",
        };
        return new CacheClearResult
        {
            HostName = session.HostName,
            CachePath = path,
            FilesRemoved = removed,
            ConfigurationValid = !reload ? null : result.ExitStatus switch
            {
                0 or ScriptExitCodes.ClearNginxCache.ReloadFailed => true,
                ScriptExitCodes.ClearNginxCache.ConfigurationRejected => false,
                _ => null,
            },
            Reloaded = reload && result.ExitStatus == 0,
            Problem = problem,
            Duration = stopwatch.Elapsed,
        };
    }
}
