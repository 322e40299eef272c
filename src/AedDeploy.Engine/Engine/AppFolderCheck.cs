namespace AedDeploy.Engine;

/// <summary>
/// The preflight check that PM2 runs the app from the folder a deploy builds (issue 14: an InPlace deploy built
/// its checkout while PM2 ran the app from another folder, reloaded the old build and reported success).
/// </summary>
internal static class AppFolderCheck
{
    /// <summary>
    /// Where PM2 runs the app must be where this deploy builds it: a deploy that builds one folder while PM2
    /// serves another reloads the old build, whose answers pass a status check. pm_cwd is what PM2 fixed at
    /// first start and follows on every reload.
    /// </summary>
    public static async Task<PreflightCheck> CheckAsync(RemoteRunner runner, AppTarget target, IReadOnlyList<Pm2Process> instances, CancellationToken cancellationToken)
    {
        var cwds = instances.Select(p => p.Cwd).Distinct(StringComparer.Ordinal).ToList();
        var resolved = await runner.RunAsync(
            """
            readlink -f -- "$1"; shift
            for cwd in "$@"; do printf '%s\t%s\n' "$(readlink -f -- "$cwd")" "$(readlink -f -- "$(dirname -- "$cwd")")"; done
            """,
            cancellationToken, arguments: [target.AppPath, .. cwds]).ConfigureAwait(false);
        var lines = resolved.Output.TrimEnd('\n').Split('\n');
        var folders = cwds.Select((cwd, i) =>
        {
            var parts = (lines.Length > i + 1 ? lines[i + 1] : string.Empty).Split('\t');
            return new Pm2Folder(cwd, parts[0], parts.Length > 1 ? parts[1] : string.Empty);
        }).ToList();
        return Decide(target, lines[0].Trim(), folders);
    }

    /// <summary>
    /// Release: pm_cwd is this app path's <c>current</c> link, unresolved (a resolved one stays pinned to one release).
    /// InPlace: pm_cwd resolves to the checkout.
    /// </summary>
    internal static PreflightCheck Decide(AppTarget target, string resolvedAppPath, IReadOnlyList<Pm2Folder> folders)
    {
        const string Name = "PM2 folder";
        var expected = target.LivePath;
        var elsewhere = folders.FirstOrDefault(f => target.Layout == DeployLayout.Release
            ? !(f.Cwd.TrimEnd('/').EndsWith("/current", StringComparison.Ordinal) && f.ResolvedParent == resolvedAppPath)
            : f.Resolved != resolvedAppPath);
        if (elsewhere is null)
        {
            return new(Name, true, $"PM2 runs {target.AppName} from {expected}");
        }

        var cwd = elsewhere.Cwd.TrimEnd('/');
        var where = elsewhere.Resolved.Length > 0 && elsewhere.Resolved != cwd ? $"{cwd} ({elsewhere.Resolved})" : cwd;
        var advice = target.Layout == DeployLayout.InPlace
            ? cwd.EndsWith("/current", StringComparison.Ordinal)
                ? $"That is a Release layout: deploy it with -Layout Release -AppPath {cwd[..^"/current".Length]}"
                : $"Deploy that checkout with -AppPath {cwd}, or move the app to the Release layout with Initialize-DeployTarget"
            : elsewhere.ResolvedParent == $"{resolvedAppPath}/releases"
                ? $"PM2 keeps it pinned to one release: run Initialize-DeployTarget -AppPath {target.AppPath} to make PM2 run it from {expected}"
                : $"Deploy that folder with its own -AppPath (-Layout InPlace for a checkout), or run Initialize-DeployTarget -AppPath {target.AppPath} to make PM2 run it from {expected}";
        return new(Name, false, $"PM2 runs {target.AppName} from {where}, not from {expected}: this deploy would build one folder and reload another. {advice}.", "Pm2AppElsewhere");
    }
}
