namespace AedDeploy.Engine.Fleet;

/// <summary>
/// Builds a fleet's release on a machine that is not one of its hosts (-BuildOn a local session, as on a CI runner),
/// in a Release layout of its own at the build path: <c>releases/&lt;id&gt;</c>, and <c>current</c> pointing at the last build
/// that was shipped, so that the next build starts from its node_modules and .next/cache. It never serves anything.
/// The build path has a lease lock of its own (<see cref="DeployLock"/> on its .aeddeploy), held from before the build
/// until <c>current</c> has moved: two deploys sharing a build path (two CI jobs on one runner) never build into it,
/// or move its <c>current</c>, at once.
/// </summary>
internal sealed class ExternalBuilder(DeploySession session, AppTarget target, IDeployLog log)
{
    /// <summary>Builds kept at the build path besides the new one: the seed of the next build.</summary>
    private const int KeepBuilds = 2;

    public DeploySession Session => session;

    public AppTarget Target => target;

    public IDeployLog Log => log;

    public string HostName => session.HostName;

    public BuildResult? Build { get; private set; }

    private DeployLock? buildLock;
    private IAsyncDisposable? renewal;
    private string? lockId;

    /// <summary>
    /// Takes the build path's lock for <paramref name="owner"/>, waiting for it as long as a host's deploy lock would
    /// (-LockWaitTimeout); renewed until <see cref="UnlockAsync"/>. A lock left by a deploy that died is taken over:
    /// what it left is a half-made build under releases, which <see cref="KeepAsync"/> prunes like any other.
    /// </summary>
    public async Task<string> LockAsync(LockInfo owner, TimeSpan waitTimeout, TimeSpan lease, CancellationToken cancellationToken)
    {
        // Set before the acquire: a cancel while lock.sh runs may leave the lock taken, and UnlockAsync must then release
        // it (release removes only a lock with this deploy's id).
        buildLock = new DeployLock(session, target, log);
        lockId = owner.DeployId;
        LockInfo? abandoned;
        try
        {
            abandoned = await buildLock.AcquireAsync(owner, waitTimeout, lease, cancellationToken, "its half-made build stays under releases/ until it goes with the older builds")
                .ConfigureAwait(false);
        }
        catch (AedDeployException ex) when (ex.ErrorId == "DeployLocked")
        {
            buildLock = null;
            throw new AedDeployException(
                "BuildPathLocked", FailureKind.ResourceBusy,
                $"The build path {target.AppPath} on {session.HostName} is in use by another deploy's build: locked by {ex.Target}. "
                + "Give deploys that run at the same time a -BuildPath each, or wait for it with -LockWaitTimeout. No host was changed.",
                ex.Target, ex);
        }

        renewal = buildLock.StartRenewing(owner.DeployId, DeployLock.RenewalInterval(lease));
        return abandoned is null ? $"{target.AppPath} on {session.HostName}" : $"{target.AppPath} on {session.HostName}, taken over from deploy {abandoned.DeployId}";
    }

    /// <summary>Stops renewing and releases the build path's lock, if this deploy took it. Never throws: a lock not released expires after its lease.</summary>
    public async Task UnlockAsync()
    {
        if (buildLock is null)
        {
            return;
        }

        try
        {
            if (renewal is not null)
            {
                await renewal.DisposeAsync().ConfigureAwait(false);
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await buildLock.ReleaseAsync(lockId!, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (!PhaseRunner.IsFatal(ex))
        {
            log.Warning($"Releasing the lock of the build path {target.AppPath} on {session.HostName} failed; the next deploy takes it over once its lease has run out: {PhaseRunner.ReasonOf(ex)}");
        }
        finally
        {
            buildLock = null;
            renewal = null;
        }
    }

    /// <summary>Clones, installs and builds the release, then lists what ships.</summary>
    public async Task<string> BuildAsync(BuildRequest request, CancellationToken cancellationToken)
    {
        var build = await new BuildService(session, target, log).BuildAsync(request, cancellationToken).ConfigureAwait(false);
        Build = build;
        var (files, _) = await DeployOrchestrator.PackAsync(new RemoteRunner(session, log), target, build, cancellationToken).ConfigureAwait(false);
        return $"{build.ReleaseId} at {target.AppPath} on {session.HostName}: {build.BuildId} ({build.InstallMode}, build cache {build.BuildCache}); {files} file(s) to ship";
    }

    /// <summary>
    /// After the fleet succeeded: the build becomes the seed of the next one (<c>current</c>), older builds go.
    /// Only saves the next build time, so a failure warns.
    /// </summary>
    public async Task KeepAsync(CancellationToken cancellationToken)
    {
        if (Build?.ReleaseId is not { } id)
        {
            return;
        }

        try
        {
            var store = new ReleaseStore(session, target, log);
            await store.SwitchAsync(id, cancellationToken).ConfigureAwait(false);
            var releases = await store.ListAsync(cancellationToken).ConfigureAwait(false);
            var doomed = releases.Where(r => r.Id != id).OrderBy(r => r.CreatedAt ?? DateTimeOffset.MinValue).ThenBy(r => r.Id)
                .SkipLast(KeepBuilds - 1).Select(r => r.Id).ToList();
            if (doomed.Count > 0)
            {
                await store.RemoveAsync(doomed, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (!PhaseRunner.IsFatal(ex))
        {
            log.Warning($"Keeping the build {id} at {target.AppPath} as the seed of the next one failed; the next build starts cold: {PhaseRunner.ReasonOf(ex)}");
        }
    }
}
