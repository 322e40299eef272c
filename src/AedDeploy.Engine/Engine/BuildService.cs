using System.Diagnostics;

namespace AedDeploy.Engine;

/// <summary>What to build and how (Invoke-RemoteBuild).</summary>
public sealed class BuildRequest
{
    public required string Ref { get; init; }

    /// <summary>The git repository to clone from; by default the live release's origin.</summary>
    public string? Repository { get; init; }

    public string BuildCommand { get; init; } = "npm run build";

    public TimeSpan InstallTimeout { get; init; } = TimeSpan.FromMinutes(15);

    public TimeSpan BuildTimeout { get; init; } = TimeSpan.FromMinutes(20);

    /// <summary>The new release's id; by default the current UTC time.</summary>
    public string? ReleaseId { get; init; }
}

/// <summary>
/// Gets the code for a ref and builds it (Invoke-RemoteBuild). Release: in a new release folder, with
/// shared files linked in and node_modules seeded from the live release; the live release is never
/// touched. InPlace: fetch and reset of the checkout, as the hand-written process did, so the running
/// app sees <c>next build</c> rewrite its <c>.next</c> (measured, documented, and why Release is the default).
/// </summary>
public sealed class BuildService(DeploySession session, AppTarget target, IDeployLog log)
{
    private const string Activity = "Invoke-RemoteBuild";
    private static readonly TimeSpan FetchTimeout = TimeSpan.FromMinutes(10);

    /// <param name="liveChanging">
    /// InPlace: called once the live checkout may have changed (the reset began), so that the caller knows a
    /// failure from then on needs the backup back. The Release layout never touches the live release.
    /// </param>
    public async Task<BuildResult> BuildAsync(BuildRequest request, CancellationToken cancellationToken, Action? liveChanging = null)
    {
        Names.ValidateGitRef(request.Ref);
        if (request.Repository is { } repository && (repository.StartsWith('-') || repository.Contains('\n')))
        {
            throw new AedDeployException("InvalidRepository", FailureKind.InvalidArgument, $"'{Names.Printable(repository)}' is not a git repository address.", repository);
        }

        return target.Layout == DeployLayout.Release
            ? await BuildReleaseAsync(request, cancellationToken).ConfigureAwait(false)
            : await BuildInPlaceAsync(request, liveChanging ?? (() => { }), cancellationToken).ConfigureAwait(false);
    }

    private async Task<BuildResult> BuildReleaseAsync(BuildRequest request, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var runner = new RemoteRunner(session.Shell, log);
        var store = new ReleaseStore(session, target, log);
        var previousId = await store.GetLiveIdAsync(cancellationToken).ConfigureAwait(false);
        var id = Names.ValidateReleaseId(request.ReleaseId ?? ReleaseStore.NewReleaseId(DateTimeOffset.UtcNow));
        var releasePath = target.ReleasePath(id);
        var createdAt = DateTimeOffset.UtcNow;

        log.Progress(Activity, $"Fetching {request.Ref} into release {id}", 5);
        var fetch = await runner.RunScriptAsync("fetch-release.sh", [target.AppPath, id, request.Ref, request.Repository ?? string.Empty], cancellationToken, FetchTimeout)
            .ConfigureAwait(false);
        if (!fetch.Succeeded)
        {
            throw FetchFailure(fetch, request.Ref, releasePath);
        }

        var commit = LastLine(fetch.Output);
        var record = new ReleaseRecord(id, request.Ref, commit, string.Empty, ReleaseStatus.Building, createdAt, null, null);
        await store.WriteRecordAsync(record, cancellationToken).ConfigureAwait(false);
        try
        {
            await runner.RunCheckedAsync(RemoteScripts.Command("link-shared.sh"), "SharedLinkFailed", "Linking shared files into the release", cancellationToken,
                arguments: [target.AppPath, id]).ConfigureAwait(false);

            log.Progress(Activity, "Installing dependencies", 20);
            var seed = previousId is null ? string.Empty : target.ReleasePath(previousId);
            var installMode = await InstallAsync(runner, releasePath, seed, string.Empty, request, cancellationToken).ConfigureAwait(false);

            log.Progress(Activity, $"Building ({request.BuildCommand})", 45);
            var buildId = await RunBuildAsync(runner, releasePath, request, cancellationToken).ConfigureAwait(false);

            await store.WriteRecordAsync(record with { BuildId = buildId, Status = ReleaseStatus.Built }, cancellationToken).ConfigureAwait(false);
            log.Progress(Activity, "Built", 100);
            return new BuildResult(session, target)
            {
                ReleaseId = id,
                ReleasePath = releasePath,
                Ref = request.Ref,
                Commit = commit,
                BuildId = buildId,
                InstallMode = installMode,
                PreviousReleaseId = previousId,
                Duration = stopwatch.Elapsed,
            };
        }
        catch (Exception ex) when (ex is AedDeployException or OperationCanceledException)
        {
            // The failed release stays for inspection; its record says why. A lost connection cannot write it: the
            // deploy's recovery (after reconnecting) or the next deploy's takeover marks it.
            if (session.Shell.IsConnected)
            {
                var failed = ex is OperationCanceledException
                    ? record with { Status = ReleaseStatus.Cancelled, Reason = "DeployCancelled: the build was stopped" }
                    : record with { Status = ReleaseStatus.Failed, Reason = $"{((AedDeployException)ex).ErrorId}: {ex.Message.Split('\n')[0].Trim()}" };
                await store.WriteRecordAsync(failed, CancellationToken.None).ConfigureAwait(false);
            }

            throw;
        }
    }

    private async Task<BuildResult> BuildInPlaceAsync(BuildRequest request, Action liveChanging, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var runner = new RemoteRunner(session.Shell, log);
        log.Progress(Activity, $"Fetching {request.Ref} and resetting {target.AppPath}", 5);
        CommandResult fetch;
        try
        {
            fetch = await runner.RunScriptAsync("fetch-inplace.sh", [target.AppPath, request.Ref], cancellationToken, FetchTimeout).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is AedDeployException or OperationCanceledException)
        {
            liveChanging(); // cut off mid-way: the reset may have begun
            throw;
        }

        // Exit 11 (no such ref) and 12 (fetch failed) come before the reset; anything else may come after it.
        if (fetch.ExitStatus is not (11 or 12))
        {
            liveChanging();
        }

        if (!fetch.Succeeded)
        {
            throw FetchFailure(fetch, request.Ref, target.AppPath);
        }

        var lines = fetch.Output.TrimEnd('\n').Split('\n');
        var commit = lines[^2].Trim();
        var previousLockHash = lines[^1].Trim();

        log.Progress(Activity, "Installing dependencies", 20);
        var installMode = await InstallAsync(runner, target.AppPath, string.Empty, previousLockHash, request, cancellationToken).ConfigureAwait(false);

        log.Progress(Activity, $"Building in place ({request.BuildCommand})", 45);
        var buildId = await RunBuildAsync(runner, target.AppPath, request, cancellationToken).ConfigureAwait(false);
        log.Progress(Activity, "Built", 100);
        return new BuildResult(session, target)
        {
            ReleasePath = target.AppPath,
            Ref = request.Ref,
            Commit = commit,
            BuildId = buildId,
            InstallMode = installMode,
            Duration = stopwatch.Elapsed,
        };
    }

    private static async Task<string> InstallAsync(RemoteRunner runner, string folder, string seed, string previousLockHash, BuildRequest request, CancellationToken cancellationToken)
    {
        var install = await runner.RunScriptAsync("install-dependencies.sh", [folder, seed, previousLockHash], cancellationToken, request.InstallTimeout).ConfigureAwait(false);
        if (!install.Succeeded)
        {
            throw new AedDeployException(
                "DependencyInstallFailed", FailureKind.InvalidResult,
                $"Installing dependencies in {folder} failed on {runner.Shell.HostName} (exit {install.ExitStatus}):\n{install.Tail()}",
                folder);
        }

        var mode = LastLine(install.Output);
        runner.Log.Verbose($"Dependencies: {mode}.");
        return mode;
    }

    private static async Task<string> RunBuildAsync(RemoteRunner runner, string folder, BuildRequest request, CancellationToken cancellationToken)
    {
        var build = await runner.RunScriptAsync("build-app.sh", [folder, request.BuildCommand], cancellationToken, request.BuildTimeout).ConfigureAwait(false);
        if (!build.Succeeded)
        {
            var (id, what) = build.ExitStatus == 14 ? ("PrismaGenerateFailed", "prisma generate") : ("BuildFailed", $"'{request.BuildCommand}'");
            throw new AedDeployException(
                id, FailureKind.InvalidResult,
                $"{what} failed in {folder} on {runner.Shell.HostName} (exit {build.ExitStatus}):\n{build.Tail(30)}",
                folder);
        }

        var buildId = await runner.RunAsync("cat -- \"$1/.next/BUILD_ID\" 2>/dev/null || true", cancellationToken, arguments: [folder]).ConfigureAwait(false);
        return buildId.Output.Trim();
    }

    private AedDeployException FetchFailure(CommandResult fetch, string gitRef, string folder) => fetch.ExitStatus switch
    {
        11 => new AedDeployException(
            "BuildRefNotFound", FailureKind.NotFound,
            $"'{gitRef}' is not a branch, tag or commit of the app's repository on {session.HostName}. Nothing was changed.\n{fetch.Tail(5)}",
            gitRef),
        10 => new AedDeployException(
            "ReleaseExists", FailureKind.InvalidOperation,
            $"{folder} already exists on {session.HostName}. Give another -ReleaseId.", folder),
        _ => new AedDeployException(
            "FetchFailed", FailureKind.InvalidOperation,
            $"Getting '{gitRef}' into {folder} failed on {session.HostName} (exit {fetch.ExitStatus}):\n{fetch.Tail()}", folder),
    };

    private static string LastLine(string output) => output.TrimEnd('\n').Split('\n')[^1].Trim();
}
