using System.Diagnostics;

namespace AedDeploy.Engine;

/// <summary>What to build and how (Invoke-RemoteBuild).</summary>
public sealed record BuildRequest
{
    public required string Ref { get; init; }

    /// <summary>The git repository to clone from; by default the live release's origin.</summary>
    public string? Repository { get; init; }

    public string BuildCommand { get; init; } = "npm run build";

    public TimeSpan InstallTimeout { get; init; } = TimeSpan.FromMinutes(15);

    public TimeSpan BuildTimeout { get; init; } = TimeSpan.FromMinutes(20);

    /// <summary>The new release's id; by default the current UTC time.</summary>
    public string? ReleaseId { get; init; }

    /// <summary>
    /// The CPU niceness (0 to 19) the install and the build run at, with the lowest best-effort I/O priority: on a
    /// small server they compete with the live workers (measured: live p99 latency 2.4 to 2.8 times idle). 0 runs them
    /// at normal priority.
    /// </summary>
    public int Niceness { get; init; } = 10;

    /// <summary>
    /// Release: start the build with a copy of the live release's <c>.next/cache</c> (measured on the fixture: 15.7 s
    /// cold, 8.9 s with the previous build's cache). Off for a build that must start clean.
    /// </summary>
    public bool UseBuildCache { get; init; } = true;

    /// <summary>
    /// Release, a fleet's receiving host: the release is cloned, its shared files linked and its dependencies installed
    /// (and the Prisma client generated), but not built: the build's outputs are shipped from the build host.
    /// </summary>
    internal bool ReceivesBuild { get; init; }

    /// <summary>InPlace: the commit <see cref="Ref"/> was resolved to beforehand (the deploy's Fetch phase); built instead of resolving again.</summary>
    public string? Commit { get; init; }
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

    /// <summary>
    /// Builds the ref. InPlace, this resets the live checkout (the app's files change under the running workers);
    /// the Release layout never touches the live release.
    /// </summary>
    public async Task<BuildResult> BuildAsync(BuildRequest request, CancellationToken cancellationToken)
    {
        Names.ValidateGitRef(request.Ref);
        if (request.Repository is { } repository && (repository.StartsWith('-') || repository.Contains('\n')))
        {
            throw new AedDeployException("InvalidRepository", FailureKind.InvalidArgument, $"'{Names.Printable(repository)}' is not a git repository address.", repository);
        }

        return target.Layout == DeployLayout.Release
            ? await BuildReleaseAsync(request, cancellationToken).ConfigureAwait(false)
            : await BuildInPlaceAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// InPlace: fetches the checkout's origin and resolves the ref to a commit, changing nothing the app runs on;
    /// a ref that does not exist fails here with <c>BuildRefNotFound</c>.
    /// </summary>
    public async Task<string> ResolveInPlaceAsync(string gitRef, CancellationToken cancellationToken)
    {
        Names.ValidateGitRef(gitRef);
        var fetch = await new RemoteRunner(session, log).RunScriptAsync("fetch-inplace.sh", [target.AppPath, gitRef, "resolve"], cancellationToken, FetchTimeout)
            .ConfigureAwait(false);
        return fetch.Succeeded ? RemoteAnswer.Lines(fetch, "fetch-inplace.sh", 1)[0] : throw FetchFailure(fetch, gitRef, target.AppPath);
    }

    private async Task<BuildResult> BuildReleaseAsync(BuildRequest request, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var runner = new RemoteRunner(session, log);
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

        var commit = RemoteAnswer.Lines(fetch, "fetch-release.sh", 1)[0];
        var record = new ReleaseRecord(id, request.Ref, commit, string.Empty, ReleaseStatus.Building, createdAt, null, null);
        await store.WriteRecordAsync(record, cancellationToken).ConfigureAwait(false);
        try
        {
            await runner.RunCheckedAsync(RemoteScripts.Command("link-shared.sh"), "SharedLinkFailed", "Linking shared files into the release", cancellationToken,
                arguments: [target.AppPath, id]).ConfigureAwait(false);

            log.Progress(Activity, "Installing dependencies", 20);
            var seed = previousId is null ? string.Empty : target.ReleasePath(previousId);
            var installMode = await InstallAsync(runner, releasePath, seed, string.Empty, request, cancellationToken).ConfigureAwait(false);

            var (cacheMode, cacheBytes) = request.UseBuildCache && previousId is not null && !request.ReceivesBuild
                ? await SeedBuildCacheAsync(runner, releasePath, seed, request, cancellationToken).ConfigureAwait(false)
                : ("none", 0L);

            string buildId;
            if (request.ReceivesBuild)
            {
                // build-app.sh with no command generates the Prisma client only; the release stays Building until it has received the build.
                log.Progress(Activity, "Preparing for the shipped build", 45);
                await RunBuildAsync(runner, releasePath, request with { BuildCommand = string.Empty }, cancellationToken).ConfigureAwait(false);
                buildId = string.Empty;
            }
            else
            {
                log.Progress(Activity, $"Building ({request.BuildCommand})", 45);
                buildId = await RunBuildAsync(runner, releasePath, request, cancellationToken).ConfigureAwait(false);
                await store.WriteRecordAsync(record with { BuildId = buildId, Status = ReleaseStatus.Built }, cancellationToken).ConfigureAwait(false);
            }

            log.Progress(Activity, "Built", 100);
            return new BuildResult(session, target)
            {
                ReleaseId = id,
                ReleasePath = releasePath,
                Ref = request.Ref,
                Commit = commit,
                BuildId = buildId,
                InstallMode = installMode,
                BuildCache = cacheMode,
                BuildCacheBytes = cacheBytes,
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

    private async Task<BuildResult> BuildInPlaceAsync(BuildRequest request, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        var runner = new RemoteRunner(session, log);
        log.Progress(Activity, $"Fetching {request.Ref} and resetting {target.AppPath}", 5);
        var fetch = await runner.RunScriptAsync("fetch-inplace.sh", [target.AppPath, request.Commit ?? request.Ref], cancellationToken, FetchTimeout).ConfigureAwait(false);

        if (!fetch.Succeeded)
        {
            throw FetchFailure(fetch, request.Ref, target.AppPath);
        }

        var answer = RemoteAnswer.Lines(fetch, "fetch-inplace.sh", 2);
        var commit = answer[0];
        var previousLockHash = answer[1];

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
        var install = await runner.RunScriptAsync("install-dependencies.sh", [folder, seed, previousLockHash], cancellationToken, request.InstallTimeout, request.Niceness).ConfigureAwait(false);
        if (!install.Succeeded)
        {
            throw new AedDeployException(
                "DependencyInstallFailed", FailureKind.InvalidResult,
                $"Installing dependencies in {folder} failed on {runner.Shell.HostName} (exit {install.ExitStatus}):\n{install.Tail()}",
                folder)
            {
                AppOutput = AppOutputText.Bound(install.Tail(AppOutputText.MaxLines)),
            };
        }

        var mode = RemoteAnswer.Lines(install, "install-dependencies.sh", 1)[0];
        if (mode is not ("ci" or "install" or "skipped"))
        {
            throw RemoteAnswer.Invalid(install, "install-dependencies.sh", $"'{Names.Printable(mode)}' is not an install mode");
        }

        runner.Log.Verbose($"Dependencies: {mode}.");
        return mode;
    }

    /// <summary>
    /// Copies the live release's build cache into the new release (reflink where offered). A cache only saves time:
    /// when the copy fails the build starts cold, with a warning, and the deploy goes on.
    /// </summary>
    internal static async Task<(string Mode, long Bytes)> SeedBuildCacheAsync(
        RemoteRunner runner, string folder, string seed, BuildRequest request, CancellationToken cancellationToken)
    {
        var copy = await runner.RunScriptAsync("seed-build-cache.sh", [folder, seed], cancellationToken, request.InstallTimeout, request.Niceness).ConfigureAwait(false);
        if (!copy.Succeeded)
        {
            runner.Log.Warning($"Copying the build cache of {seed} failed (exit {copy.ExitStatus}); the build starts cold:\n{copy.Tail(5)}");
            return ("failed", 0);
        }

        var answer = RemoteAnswer.Lines(copy, "seed-build-cache.sh", 2);
        if (answer[0] is not ("reflink" or "copy" or "none" or "failed") || !long.TryParse(answer[1], out var bytes))
        {
            throw RemoteAnswer.Invalid(copy, "seed-build-cache.sh", $"'{Names.Printable(string.Join(' ', answer))}' is not a cache mode and a size");
        }

        if (answer[0] == "failed")
        {
            runner.Log.Warning($"Copying the build cache of {seed} failed; the build starts cold:\n{copy.Tail(5)}");
        }
        else
        {
            runner.Log.Verbose($"Build cache: {answer[0]} of {seed}/.next/cache ({bytes / (1024 * 1024.0):0.0} MiB).");
        }

        return (answer[0], bytes);
    }

    private static async Task<string> RunBuildAsync(RemoteRunner runner, string folder, BuildRequest request, CancellationToken cancellationToken)
    {
        var build = await runner.RunScriptAsync("build-app.sh", [folder, request.BuildCommand], cancellationToken, request.BuildTimeout, request.Niceness).ConfigureAwait(false);
        if (!build.Succeeded)
        {
            var (id, what) = build.ExitStatus == ScriptExitCodes.BuildApp.PrismaGenerateFailed ? ("PrismaGenerateFailed", "prisma generate") : ("BuildFailed", $"'{request.BuildCommand}'");
            throw new AedDeployException(
                id, FailureKind.InvalidResult,
                $"{what} failed in {folder} on {runner.Shell.HostName} (exit {build.ExitStatus}):\n{build.Tail(30)}",
                folder)
            {
                AppOutput = AppOutputText.Bound(build.Tail(AppOutputText.MaxLines)),
            };
        }

        var buildId = await runner.RunAsync("cat -- \"$1/.next/BUILD_ID\" 2>/dev/null || true", cancellationToken, arguments: [folder]).ConfigureAwait(false);
        return buildId.Output.Trim();
    }

    private AedDeployException FetchFailure(CommandResult fetch, string gitRef, string folder) => fetch.ExitStatus switch
    {
        ScriptExitCodes.Fetch.RefNotFound => new AedDeployException(
            "BuildRefNotFound", FailureKind.NotFound,
            $"'{gitRef}' is not a branch, tag or commit of the app's repository on {session.HostName}. Nothing was changed.\n{fetch.Tail(5)}",
            gitRef),
        ScriptExitCodes.Fetch.ReleaseExists => new AedDeployException(
            "ReleaseExists", FailureKind.InvalidOperation,
            $"{folder} already exists on {session.HostName}. Give another -ReleaseId.", folder),
        _ => new AedDeployException(
            "FetchFailed", FailureKind.InvalidOperation,
            $"Getting '{gitRef}' into {folder} failed on {session.HostName} (exit {fetch.ExitStatus}):\n{fetch.Tail()}", folder),
    };
}
