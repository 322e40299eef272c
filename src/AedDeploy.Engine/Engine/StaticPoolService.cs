using System.Globalization;
using System.Text.RegularExpressions;

namespace AedDeploy.Engine;

/// <summary>
/// The app's static pool (<c>&lt;AppPath&gt;/static/_next/static/</c>, docs/design/fleet.md §4): hard links to every
/// release's hashed chunks, which nginx serves whichever release a host runs, so that a page of one version finds
/// its chunks on a host that still runs (or already runs) another. Set up by Initialize-DeployTarget -StaticPool:
/// the pool filled from the live release, and an nginx snippet the user includes in the app's server block (the
/// user's own nginx configuration is never edited).
/// </summary>
public sealed partial class StaticPoolService(DeploySession session, AppTarget target, IDeployLog log)
{
    private const string Activity = "Initialize-DeployTarget";
    private const string PoolScript = "pool-static.sh";
    public const string SnippetFile = "nginx-static.conf";

    private static readonly TimeSpan PoolTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan NginxTestTimeout = TimeSpan.FromMinutes(1);

    /// <summary>The folder nginx's <c>root</c> names: a URI /_next/static/x maps to &lt;root&gt;/_next/static/x.</summary>
    public string RootPath => $"{target.AppPath}/static";

    public string PoolPath => $"{RootPath}/_next/static";

    public string SnippetPath => $"{target.StatePath}/{SnippetFile}";

    /// <summary>The line the user adds inside the app's nginx server block.</summary>
    public string IncludeLine => $"include {SnippetPath};";

    /// <summary>
    /// The address a pool miss is passed to: scheme, host and port only (nginx refuses a URI part in a named
    /// location's proxy_pass). Characters that would end or escape an nginx directive are refused.
    /// </summary>
    public static string ValidateUpstream(Uri upstream)
    {
        if (!upstream.IsAbsoluteUri || upstream.Scheme is not ("http" or "https") || upstream.UserInfo.Length > 0
            || upstream.PathAndQuery != "/" || upstream.Fragment.Length > 0 || !NginxSafePattern().IsMatch(upstream.GetLeftPart(UriPartial.Authority)))
        {
            throw new AedDeployException(
                "StaticPoolUpstreamInvalid", FailureKind.InvalidArgument,
                $"The static pool's upstream '{Names.Printable(upstream.OriginalString)}' must be an http or https address with no path, query or user, "
                + "such as http://127.0.0.1:3000: the app itself, which nginx asks for a file the pool does not hold.",
                upstream);
        }

        return upstream.GetLeftPart(UriPartial.Authority);
    }

    /// <summary>The name of the snippet's named location: the app name with anything but letters, digits and '_' as '_'.</summary>
    public string FallbackLocation => $"@aeddeploy_{Regex.Replace(target.AppName, "[^A-Za-z0-9_]", "_")}_app";

    /// <summary>
    /// Creates the pool, fills it from the live release (never replacing a file), and writes the snippet. With a
    /// <paramref name="nginxTestCommand"/>, nginx's configuration test must pass afterwards (StaticPoolNginxRejected).
    /// </summary>
    public async Task<StaticPoolSetup> SetUpAsync(string liveReleaseId, Uri upstream, string? nginxTestCommand, CancellationToken cancellationToken)
    {
        var releaseId = Names.ValidateReleaseId(liveReleaseId);
        var proxyPass = ValidateUpstream(upstream);
        if (!NginxSafePattern().IsMatch(target.AppPath))
        {
            throw new AedDeployException(
                "StaticPoolPathUnsupported", FailureKind.InvalidArgument,
                $"The app path '{Names.Printable(target.AppPath)}' holds characters an nginx directive cannot take unquoted (only letters, digits and . _ - + / @): "
                + "set the static pool up for an app whose path has none.",
                target.AppPath);
        }

        var runner = new RemoteRunner(session, log);
        log.Progress(Activity, $"Filling the static pool {PoolPath} from release {releaseId}", 90);
        await runner.RunCheckedAsync(
            "mkdir -p -- \"$1\"", "StaticPoolFillFailed", $"Creating the static pool {PoolPath}", cancellationToken, PoolTimeout, [PoolPath]).ConfigureAwait(false);
        var fill = await runner.RunScriptAsync(PoolScript, ["fill", target.AppPath, releaseId], cancellationToken, PoolTimeout).ConfigureAwait(false);
        if (!fill.Succeeded)
        {
            var why = fill.ExitStatus == ScriptExitCodes.PoolStatic.LinkFailed
                ? "a file of the release could not be hard-linked into the pool (the pool and releases/ must be on one file system, writable by the deploy user)"
                : $"{PoolScript} exited {fill.ExitStatus}";
            throw new AedDeployException(
                "StaticPoolFillFailed", FailureKind.InvalidOperation,
                $"Filling the static pool {PoolPath} from release {releaseId} failed on {session.HostName}: {why}.\n{fill.Tail()}",
                PoolPath);
        }

        // The answer (fd 3): files linked, files already present, files the pool holds with other content.
        var counts = RemoteAnswer.Lines(fill, PoolScript, 3)
            .Select(line => int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
                ? n
                : throw RemoteAnswer.Invalid(fill, PoolScript, $"'{Names.Printable(line)}' is not a count of files"))
            .ToArray();

        log.Progress(Activity, $"Writing the nginx snippet {SnippetPath}", 95);
        // An unquoted here-document expands $1..$6, and what they expand to is never read as shell text again.
        await runner.RunCheckedAsync(
            """
            mkdir -p -- "$2" && cat > "$3.tmp" <<AEDDEPLOY_SNIPPET_END && mv -f -- "$3.tmp" "$3"
            # AedDeploy static pool for $4 at $1: include this file inside the app's nginx server block
            location ^~ /_next/static/ {
                root $1/static;
                try_files \$uri $5;
                add_header Cache-Control "public, max-age=31536000, immutable";
            }
            location $5 {
                proxy_pass $6;
            }
            AEDDEPLOY_SNIPPET_END
            """,
            "StaticPoolSnippetWriteFailed", $"Writing the nginx snippet {SnippetPath}", cancellationToken, PoolTimeout,
            [target.AppPath, target.StatePath, SnippetPath, target.AppName, FallbackLocation, proxyPass]).ConfigureAwait(false);

        bool? nginxAccepted = null;
        if (!string.IsNullOrWhiteSpace(nginxTestCommand))
        {
            // The user's own command (as Clear-NginxCache runs it), passed as a value and run by bash.
            var test = await runner.RunAsync("bash -c \"$1\"", cancellationToken, NginxTestTimeout, [nginxTestCommand]).ConfigureAwait(false);
            if (!test.Succeeded)
            {
                throw new AedDeployException(
                    "StaticPoolNginxRejected", FailureKind.InvalidOperation,
                    $"'{nginxTestCommand}' rejected the nginx configuration on {session.HostName} (exit {test.ExitStatus}) after the static pool's snippet {SnippetPath} was written. "
                    + $"The snippet holds two location blocks: include it inside the app's server block ({IncludeLine}), not at the http level, and not twice.\n{test.Tail(10)}",
                    SnippetPath);
            }

            nginxAccepted = true;
        }

        return new StaticPoolSetup(PoolPath, SnippetPath, IncludeLine, proxyPass, counts[0], counts[1], counts[2], nginxAccepted);
    }

    [GeneratedRegex(@"^[A-Za-z0-9._+/@:-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex NginxSafePattern();
}

/// <summary>What setting the static pool up did: where the pool and the snippet are, and the fill's counts.</summary>
/// <param name="NginxAccepted">True when the given nginx test command passed; null when none was given.</param>
public sealed record StaticPoolSetup(
    string PoolPath, string SnippetPath, string IncludeLine, string Upstream, int Linked, int AlreadyPresent, int Collisions, bool? NginxAccepted);
