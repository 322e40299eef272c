using System.Diagnostics;

namespace AedDeploy.Engine;

/// <summary>
/// Sets a server up for the Release layout (Initialize-DeployTarget): releases/, shared/, .aeddeploy/ with the
/// ready-signal preload, a first release when there is none, and PM2 running the app from <c>current</c>.
/// PM2 fixes an app's cwd at its first start, so an app that PM2 runs from elsewhere is moved once with
/// delete and start: a short outage, done only when asked.
/// </summary>
public sealed class TargetInitializer(DeploySession session, AppTarget target, IDeployLog log)
{
    private const string Activity = "Initialize-DeployTarget";
    public const string PreloadFile = "ready-preload.cjs";

    public string PreloadPath => $"{target.StatePath}/{PreloadFile}";

    /// <summary>Creates the folders and writes the preload; returns the live release id, or null when there is none yet.</summary>
    public async Task<string?> PrepareAsync(CancellationToken cancellationToken)
    {
        var runner = new RemoteRunner(session, log);
        log.Progress(Activity, $"Creating the Release layout under {target.AppPath}", 5);
        await runner.RunCheckedAsync(
            """
            if [ -d "$1/.git" ]; then
              echo "$1 is a git checkout (an InPlace app). Set the Release layout up at a new path and point PM2 there; the checkout stays as it is." >&2; exit 3
            fi
            mkdir -p -- "$1/releases" "$1/shared" "$2" && printf '%s' "$4" > "$3.tmp" && mv -f -- "$3.tmp" "$3"
            """,
            "InitializeFailed", $"Creating the Release layout under {target.AppPath}", cancellationToken,
            arguments: [target.AppPath, target.StatePath, PreloadPath, RemoteScripts.Get(PreloadFile)]).ConfigureAwait(false);
        return await new ReleaseStore(session, target, log).GetLiveIdAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Builds and switches to a first release.</summary>
    public async Task<string> CreateFirstReleaseAsync(BuildRequest request, CancellationToken cancellationToken)
    {
        log.Progress(Activity, $"Building the first release from {request.Ref}", 20);
        var build = await new BuildService(session, target, log).BuildAsync(request, cancellationToken).ConfigureAwait(false);
        await new ArtifactInspector(session, target, log).RequireCompleteAsync(build.ReleasePath, build.ReleaseId, "The first release", cancellationToken).ConfigureAwait(false);
        var store = new ReleaseStore(session, target, log);
        await store.SwitchAsync(build.ReleaseId!, cancellationToken).ConfigureAwait(false);
        await store.SetRollbackTargetAsync(build.ReleaseId!, cancellationToken).ConfigureAwait(false);
        return build.ReleaseId!;
    }

    /// <summary>How PM2 runs the app now: not at all, from <c>current</c>, or pinned elsewhere.</summary>
    public async Task<(bool Running, bool FromCurrent, string Cwd)> InspectPm2Async(CancellationToken cancellationToken)
    {
        var processes = await new Pm2Client(new RemoteRunner(session, log), target).ListAsync(cancellationToken).ConfigureAwait(false);
        var cwd = processes.FirstOrDefault()?.Cwd ?? string.Empty;
        return (processes.Count > 0, processes.Count > 0 && processes.All(p => p.Cwd.TrimEnd('/') == target.LivePath), cwd);
    }

    /// <summary>Starts the app from <c>current</c> (deleting it from PM2 first when it ran from elsewhere) and waits until every instance is online.</summary>
    public async Task<IReadOnlyList<Pm2Process>> StartFromCurrentAsync(bool deleteFirst, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var runner = new RemoteRunner(session, log);
        log.Progress(Activity, $"Starting {target.AppName} from {target.LivePath}", 70);
        await runner.RunCheckedAsync(
            """
            cd "$1" || exit 1
            if [ "$5" = delete ]; then "$2" delete "$4" || exit 1; fi
            "$2" start "$3" --only "$4"
            """,
            "Pm2StartFailed", $"Starting {target.AppName} from {target.LivePath}", cancellationToken, timeout,
            [target.LivePath, target.Pm2Command, target.EcosystemFile, target.AppName, deleteFirst ? "delete" : "keep"]).ConfigureAwait(false);

        var pm2 = new Pm2Client(runner, target);
        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            var processes = await pm2.ListRequiredAsync(cancellationToken).ConfigureAwait(false);
            if (processes.All(p => p.IsOnline))
            {
                // PM2 keeps the cwd the ecosystem file gives: only the symlink path follows later switches.
                var pinned = processes.FirstOrDefault(p => p.Cwd.TrimEnd('/') != target.LivePath);
                return pinned is null
                    ? processes
                    : throw new AedDeployException("Pm2CwdNotCurrent", FailureKind.InvalidResult,
                        $"PM2 started {target.AppName} with cwd {pinned.Cwd}, not {target.LivePath}: set cwd: '{target.LivePath}' in {target.EcosystemFile}, "
                        + "or workers will stay on the first release after a switch.", pinned);
            }

            if (stopwatch.Elapsed > timeout)
            {
                throw new AedDeployException("Pm2StartFailed", FailureKind.InvalidResult,
                    $"{target.AppName} did not come online from {target.LivePath}: {string.Join(", ", processes)}", target.AppName);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
        }
    }
}
