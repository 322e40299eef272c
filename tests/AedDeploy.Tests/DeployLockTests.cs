using AedDeploy.Engine;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>The deploy lock as a lease: lock.sh run for real in a local shell, against a temporary app folder.</summary>
public sealed class DeployLockTests : IDisposable
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(2);
    private readonly string appPath = Directory.CreateTempSubdirectory("aed-lock-").FullName;
    private readonly DeploySession session = DeploySession.OpenLocal();

    public void Dispose()
    {
        session.Dispose();
        Directory.Delete(appPath, recursive: true);
    }

    [Fact]
    public async Task A_lock_still_renewed_is_never_taken_over_and_one_that_stopped_is()
    {
        var holder = NewLock();
        Assert.Null(await holder.AcquireAsync(Owner("holder"), TimeSpan.Zero, Lease, CancellationToken.None));

        var renewal = holder.StartRenewing("holder", DeployLock.RenewalInterval(Lease));
        // Three leases long: without the renewals the lock would have expired twice over.
        var refused = await Assert.ThrowsAsync<AedDeployException>(() => NewLock().AcquireAsync(Owner("taker"), Lease * 3, Lease, CancellationToken.None));
        Assert.Equal("DeployLocked", refused.ErrorId);
        var held = Assert.IsType<LockInfo>(refused.Target);
        Assert.Equal("holder", held.DeployId);
        Assert.False(held.IsExpired);

        await renewal.DisposeAsync();
        var abandoned = await NewLock().AcquireAsync(Owner("taker"), Lease * 3, Lease, CancellationToken.None);
        Assert.NotNull(abandoned);
        Assert.Equal("holder", abandoned.DeployId);
        Assert.True(abandoned.IsExpired);
        Assert.Equal("taker", (await NewLock().ShowAsync(CancellationToken.None))?.DeployId);
    }

    [Fact]
    public async Task Only_one_of_two_takers_gets_an_abandoned_lock()
    {
        Assert.Null(await NewLock().AcquireAsync(Owner("dead"), TimeSpan.Zero, Lease, CancellationToken.None));
        await Task.Delay(Lease + TimeSpan.FromSeconds(1.5));

        var takers = await Task.WhenAll(new[] { "first", "second" }.Select(async id =>
        {
            try
            {
                return (Id: id, Abandoned: await NewLock().AcquireAsync(Owner(id), TimeSpan.Zero, Lease, CancellationToken.None), Error: (string?)null);
            }
            catch (AedDeployException ex)
            {
                return (Id: id, Abandoned: (LockInfo?)null, Error: ex.ErrorId);
            }
        }));

        var winner = Assert.Single(takers, t => t.Abandoned is not null);
        Assert.Equal("dead", winner.Abandoned!.DeployId);
        Assert.Equal("DeployLocked", Assert.Single(takers, t => t.Abandoned is null).Error);
        Assert.Equal(winner.Id, (await NewLock().ShowAsync(CancellationToken.None))?.DeployId);
    }

    [Fact]
    public async Task A_renewal_only_renews_the_lock_of_its_own_deploy()
    {
        var deployLock = NewLock();
        Assert.Null(await deployLock.AcquireAsync(Owner("mine"), TimeSpan.Zero, Lease, CancellationToken.None));
        Assert.True((await deployLock.RenewAsync("mine", CancellationToken.None)).Renewed);
        var (renewed, problem) = await deployLock.RenewAsync("someone-else", CancellationToken.None);
        Assert.False(renewed);
        Assert.Contains("not held by deploy someone-else", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(60, 12)]
    [InlineData(10, 2)]
    [InlineData(2, 1)]
    [InlineData(600, 15)]
    public void Renews_five_times_a_lease_between_once_a_second_and_every_15_s(int leaseSeconds, int expectedSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), DeployLock.RenewalInterval(TimeSpan.FromSeconds(leaseSeconds)));

    [Fact]
    public void A_lock_that_names_no_lease_is_judged_by_the_readers_lease()
    {
        var old = DeployLock.Parse("{\"deployId\":\"d1\",\"user\":\"ci@runner\"}\n90\n", TimeSpan.FromSeconds(60));
        Assert.Equal(TimeSpan.FromSeconds(60), old.Lease);
        Assert.True(old.IsExpired);
        var own = DeployLock.Parse("{\"deployId\":\"d2\"}\n90\n120\n", TimeSpan.FromSeconds(60));
        Assert.Equal(TimeSpan.FromSeconds(120), own.Lease);
        Assert.False(own.IsExpired);
        Assert.Equal("unknown", DeployLock.Parse("not json\n5\n", TimeSpan.FromSeconds(60)).DeployId);
    }

    private DeployLock NewLock() => new(session, new AppTarget(appPath, "fixture", DeployLayout.Release), NullDeployLog.Instance);

    private static LockInfo Owner(string id) => new() { DeployId = id, User = "test@machine", Ref = "main", StartedAt = DateTimeOffset.UtcNow };
}
