using AedDeploy.Engine;
using Xunit;

namespace AedDeploy.Tests;

/// <summary>The phase runner on declared lists whose phases record what ran: failure at each step, unknown exceptions, undo order, cancellation.</summary>
public sealed class PhaseRunnerTests
{
    private readonly List<string> ran = [];

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task A_failure_at_any_step_stops_the_list_records_the_phase_and_undoes_only_what_touched_live(int failing)
    {
        var undo = Undo("Rollback");
        var phases = new[]
        {
            Phase("Build"),
            Phase("Switch", touchesLive: true, undo: undo),
            Phase("Reload", touchesLive: true, undo: undo),
            Phase("Health"),
        };
        phases[failing] = Phase(phases[failing].Name, phases[failing].TouchesLive, phases[failing].Undo, fail: () => new AedDeployException("Broken", FailureKind.InvalidResult, "it broke\nsecond line"));
        var record = new DeploymentRecord();
        var runner = new PhaseRunner("test", NullDeployLog.Instance);

        var failure = await runner.RunAsync(phases, record, CancellationToken.None);

        Assert.IsType<AedDeployException>(failure);
        Assert.Equal(phases.Take(failing + 1).Select(p => p.Name), ran);
        Assert.Equal(phases[failing].Name, record.FailedPhase);
        Assert.Equal("Broken", record.ErrorId);
        Assert.Equal("it broke", record.Reason);
        Assert.Equal("Failed", record.Phases[^1].Outcome);
        Assert.Equal(failing >= 1, runner.LiveChanged);
        Assert.Equal(failing >= 1, runner.HasUndo);

        Assert.Null(await runner.UndoAsync(record, CancellationToken.None));
        // The undo shared by Switch and Reload runs once, however many of them began.
        Assert.Equal(failing >= 1 ? 1 : 0, ran.Count(r => r == "Rollback"));
        Assert.Equal(phases[failing].Name, record.FailedPhase);
    }

    [Fact]
    public async Task Live_state_counts_as_changed_from_the_start_of_a_live_phase_even_when_it_fails_at_once()
    {
        var runner = new PhaseRunner("test", NullDeployLog.Instance);
        var failure = await runner.RunAsync([Phase("Switch", touchesLive: true, undo: Undo("Rollback"), fail: () => new IOException("disk gone"))], new DeploymentRecord(), CancellationToken.None);

        Assert.IsType<IOException>(failure);
        Assert.True(runner.LiveChanged);
        Assert.True(runner.HasUndo);
    }

    [Fact]
    public async Task An_unknown_exception_is_the_phases_failure_with_UnexpectedFailure_and_its_type_in_the_reason()
    {
        var record = new DeploymentRecord();
        var runner = new PhaseRunner("test", NullDeployLog.Instance);

        var failure = await runner.RunAsync(
            [Phase("Reload", fail: () => new System.Text.Json.JsonException("The JSON value could not be converted to EcosystemInfo."))],
            record, CancellationToken.None);

        Assert.IsType<System.Text.Json.JsonException>(failure);
        Assert.Equal(PhaseRunner.UnexpectedFailure, record.ErrorId);
        Assert.Equal("System.Text.Json.JsonException: The JSON value could not be converted to EcosystemInfo.", record.Reason);
        Assert.Equal("Reload", record.FailedPhase);
    }

    [Fact]
    public async Task A_process_fatal_exception_is_not_caught()
    {
        var runner = new PhaseRunner("test", NullDeployLog.Instance);
        await Assert.ThrowsAsync<OutOfMemoryException>(() => runner.RunAsync([Phase("Build", fail: () => new OutOfMemoryException())], new DeploymentRecord(), CancellationToken.None));
    }

    [Fact]
    public async Task Undos_run_latest_first_and_stop_at_the_first_that_fails()
    {
        var record = new DeploymentRecord();
        var runner = new PhaseRunner("test", NullDeployLog.Instance);
        var failing = new PhaseUndo("RestoreFiles", _ => throw new AedDeployException("RestoreFailed", FailureKind.InvalidOperation, "no backup"));
        await runner.RunAsync(
            [
                Phase("Build", touchesLive: true, undo: Undo("RestoreBuild")),
                Phase("Files", touchesLive: true, undo: failing),
                Phase("Reload", touchesLive: true, undo: Undo("RestoreWorkers"), fail: () => new TimeoutException()),
            ],
            record, CancellationToken.None);
        ran.Clear();

        var undoFailure = await runner.UndoAsync(record, CancellationToken.None);

        Assert.Equal(["RestoreWorkers"], ran);
        Assert.Equal("RestoreFailed", Assert.IsType<AedDeployException>(undoFailure).ErrorId);
        Assert.Equal(["RestoreWorkers", "RestoreFiles"], record.Phases.Skip(3).Select(p => p.Name));
        Assert.Equal("Reload", record.FailedPhase);
        Assert.True(runner.HasUndo);
    }

    [Fact]
    public async Task Cancellation_fails_the_running_phase_as_cancelled_and_leaves_its_undo()
    {
        using var cancel = new CancellationTokenSource();
        var record = new DeploymentRecord();
        var runner = new PhaseRunner("test", NullDeployLog.Instance);
        var waiting = new DeployPhase
        {
            Name = "Reload", Percent = 50, TouchesLive = true, Undo = Undo("Rollback"),
            Run = async token =>
            {
                await cancel.CancelAsync();
                await Task.Delay(Timeout.Infinite, token);
                return null;
            },
        };

        var failure = await runner.RunAsync([Phase("Build"), waiting, Phase("Health")], record, cancel.Token);

        Assert.IsAssignableFrom<OperationCanceledException>(failure);
        Assert.Equal(PhaseRunner.Cancelled, record.ErrorId);
        Assert.Equal("Cancelled", record.Phases[^1].Outcome);
        Assert.DoesNotContain("Health", ran);
        Assert.True(runner.HasUndo);
    }

    [Fact]
    public async Task A_phase_left_out_by_its_condition_is_neither_run_nor_recorded_nor_undone()
    {
        var record = new DeploymentRecord();
        var runner = new PhaseRunner("test", NullDeployLog.Instance);
        var skipped = new DeployPhase { Name = "CachePurge", Percent = 90, TouchesLive = true, Undo = Undo("Rollback"), When = () => false, Run = _ => throw new InvalidOperationException() };

        Assert.Null(await runner.RunAsync([Phase("Build"), skipped], record, CancellationToken.None));
        Assert.Equal(["Build"], record.Phases.Select(p => p.Name));
        Assert.False(runner.LiveChanged);
    }

    [Fact]
    public async Task The_app_output_of_a_failure_goes_into_the_record()
    {
        var record = new DeploymentRecord();
        await new PhaseRunner("test", NullDeployLog.Instance).RunAsync(
            [Phase("BootTest", fail: () => new AedDeployException("BootTestFailed", FailureKind.InvalidResult, "answered 500") { AppOutput = "Error: DATABASE_URL is not set" })],
            record, CancellationToken.None);
        Assert.Equal("Error: DATABASE_URL is not set", record.AppOutput);
    }

    [Theory]
    [InlineData(FaultKind.Exception, 0, typeof(InjectedFaultException), false)]
    [InlineData(FaultKind.Exception, 0.2, typeof(InjectedFaultException), true)]
    [InlineData(FaultKind.Cancel, 0, typeof(OperationCanceledException), false)]
    [InlineData(FaultKind.Cancel, 0.2, typeof(OperationCanceledException), true)]
    public async Task An_injected_fault_fails_its_phase_at_its_start_or_into_it(FaultKind kind, double delaySec, Type expected, bool workStarts)
    {
        var workStarted = false;
        var workCancelled = false;
        var phase = new DeployPhase
        {
            Name = "Reload", Percent = 50, TouchesLive = true, Undo = Undo("Rollback"),
            Run = async token =>
            {
                workStarted = true;
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(30), token);
                }
                catch (OperationCanceledException)
                {
                    workCancelled = true;
                    throw;
                }

                return null;
            },
        };
        var injector = new FaultInjector(new FaultInjection("reload", kind, TimeSpan.FromSeconds(delaySec)), _ => Task.CompletedTask, NullDeployLog.Instance);
        var record = new DeploymentRecord();

        var failure = await new PhaseRunner("test", NullDeployLog.Instance, injector).RunAsync([Phase("Build"), phase], record, CancellationToken.None);

        Assert.IsAssignableFrom(expected, failure);
        Assert.Equal("Reload", record.FailedPhase);
        Assert.Equal(workStarts, workStarted);
        // The phase's own work is stopped before the failure is reported, so nothing goes on behind a rollback.
        Assert.Equal(workStarts, workCancelled);
        Assert.Equal(kind == FaultKind.Exception ? PhaseRunner.UnexpectedFailure : PhaseRunner.Cancelled, record.ErrorId);
    }

    [Fact]
    public async Task An_injected_fault_still_fires_when_its_phase_ends_before_the_delay()
    {
        var record = new DeploymentRecord();
        var injector = new FaultInjector(new FaultInjection("Switch", FaultKind.Exception, TimeSpan.FromSeconds(30)), _ => Task.CompletedTask, NullDeployLog.Instance);

        var failure = await new PhaseRunner("test", NullDeployLog.Instance, injector).RunAsync([Phase("Switch", touchesLive: true, undo: Undo("Rollback"))], record, CancellationToken.None);

        Assert.IsType<InjectedFaultException>(failure);
        Assert.Equal(["Switch"], ran);
    }

    [Fact]
    public async Task An_injected_connection_drop_runs_the_drop_and_lets_the_phase_meet_it()
    {
        var dropped = 0;
        var injector = new FaultInjector(new FaultInjection("Build", FaultKind.ConnectionDrop, TimeSpan.Zero), _ =>
        {
            dropped++;
            return Task.CompletedTask;
        }, NullDeployLog.Instance);
        var record = new DeploymentRecord();
        var phase = new DeployPhase
        {
            Name = "Build", Percent = 10,
            Run = _ => dropped == 1
                ? throw new AedDeployException("SshConnectionLost", FailureKind.Connection, "The connection to web1 was lost.")
                : Task.FromResult<string?>("built"),
        };

        await new PhaseRunner("test", NullDeployLog.Instance, injector).RunAsync([phase, Phase("Validate")], record, CancellationToken.None);

        Assert.Equal(1, dropped);
        Assert.Equal("SshConnectionLost", record.ErrorId);
        Assert.Equal("Build", record.FailedPhase);
    }

    [Fact]
    public async Task An_injected_latency_delays_the_phase_which_then_succeeds()
    {
        var record = new DeploymentRecord();
        var injector = new FaultInjector(new FaultInjection("Health", FaultKind.Latency, TimeSpan.FromMilliseconds(300)), _ => Task.CompletedTask, NullDeployLog.Instance);
        var watch = System.Diagnostics.Stopwatch.StartNew();

        Assert.Null(await new PhaseRunner("test", NullDeployLog.Instance, injector).RunAsync([Phase("Health")], record, CancellationToken.None));
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(280), $"took {watch.Elapsed}");
        Assert.Equal("Succeeded", record.Phases[0].Outcome);
    }

    [Fact]
    public void Each_layout_declares_its_phases_in_order()
    {
        var request = new DeployRequest { Build = new BuildRequest { Ref = "main" }, Health = new HealthRequest(), CachePath = "/var/cache/nginx/app" };
        Assert.Equal(
            ["Preflight", "Lock", "Backup", "Build", "Validate", "CarryStatic", "BootTest", "Switch", "Reload", "Health", "CachePurge", "Finalize"],
            DeployOrchestrator.PhaseNames(DeployLayout.Release, request));
        Assert.Equal(
            ["Preflight", "Lock", "Backup", "Fetch", "Build", "Validate", "Reload", "Health", "CachePurge"],
            DeployOrchestrator.PhaseNames(DeployLayout.InPlace, request));
        Assert.DoesNotContain("BootTest", DeployOrchestrator.PhaseNames(DeployLayout.Release, new DeployRequest { Build = request.Build, Health = request.Health, BootTest = false }));
    }

    private DeployPhase Phase(string name, bool touchesLive = false, PhaseUndo? undo = null, Func<Exception>? fail = null) => new()
    {
        Name = name,
        Percent = 10,
        TouchesLive = touchesLive,
        Undo = undo,
        Run = _ =>
        {
            ran.Add(name);
            return fail is null ? Task.FromResult<string?>($"{name} done") : throw fail();
        },
    };

    private PhaseUndo Undo(string name) => new(name, _ =>
    {
        ran.Add(name);
        return Task.FromResult<string?>($"{name} done");
    });
}

/// <summary>Gentle builds: the build script and what it starts run at the niceness asked for, through a real bash.</summary>
public sealed class BuildPriorityTests
{
    [Theory]
    [InlineData(10, "10")]
    [InlineData(0, "0")]
    public async Task The_build_command_runs_at_the_niceness_asked_for(int niceness, string expected)
    {
        var folder = Directory.CreateTempSubdirectory("aed-nice-").FullName;
        try
        {
            var runner = new RemoteRunner(new AedDeploy.Transport.LocalShell(), NullDeployLog.Instance);
            var autogroup = File.ReadAllText("/proc/self/autogroup");
            var result = await runner.RunScriptAsync("build-app.sh", [folder, "echo niceness=$(nice)"], CancellationToken.None, niceness: niceness);
            Assert.True(result.Succeeded, result.Tail());
            Assert.Contains($"niceness={expected}", result.Output + result.Error, StringComparison.Ordinal);
            // A local shell shares its caller's session: that session's autogroup (this test run's) is never reniced.
            Assert.Equal(autogroup, File.ReadAllText("/proc/self/autogroup"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
