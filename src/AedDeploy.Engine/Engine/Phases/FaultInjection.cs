using Polly;
using Polly.Simmy;

namespace AedDeploy.Engine;

/// <summary>What a rehearsal injects into one phase (-FaultInjection).</summary>
public enum FaultKind
{
    /// <summary>An exception AedDeploy does not know, as a bug in any code the phase runs would throw.</summary>
    Exception,

    /// <summary>The SSH connection cut from the server's side (the sshd process serving it is killed).</summary>
    ConnectionDrop,

    /// <summary>The phase starts late by the delay (5 s when none is given).</summary>
    Latency,

    /// <summary>The deploy is cancelled, as Ctrl+C or a stopped CI job would.</summary>
    Cancel,
}

/// <summary>
/// A fault to inject into one phase of a deploy, for failure rehearsals on a team's own staging server. It
/// fires <see cref="Delay"/> into the phase, or when the phase ends if that comes first, so that a rehearsal
/// never passes silently because its phase was quick. Never on unless asked for.
/// </summary>
public sealed record FaultInjection(string Phase, FaultKind Kind, TimeSpan Delay)
{
    public static readonly TimeSpan DefaultLatency = TimeSpan.FromSeconds(5);

    public override string ToString() => Kind == FaultKind.Latency
        ? $"a latency of {LatencyOrDefault.TotalSeconds:0.#} s before the {Phase} phase"
        : $"{(Kind == FaultKind.ConnectionDrop ? "a dropped connection" : Kind == FaultKind.Cancel ? "a cancel" : "an unexpected exception")} "
          + $"{(Delay > TimeSpan.Zero ? $"{Delay.TotalSeconds:0.#} s into" : "at the start of")} the {Phase} phase";

    internal TimeSpan LatencyOrDefault => Delay > TimeSpan.Zero ? Delay : DefaultLatency;
}

/// <summary>The exception a <see cref="FaultKind.Exception"/> injection throws: deliberately not an <see cref="AedDeployException"/>.</summary>
public sealed class InjectedFaultException(string message) : Exception(message);

/// <summary>
/// Applies a <see cref="FaultInjection"/> at the phase runner with Polly's chaos strategies: a chaos fault
/// (Exception), a chaos latency (Latency), and chaos behaviours that cut the connection or cancel the deploy.
/// </summary>
public sealed class FaultInjector(FaultInjection fault, Func<CancellationToken, Task> dropConnection, IDeployLog log)
{
    public bool Targets(string phase) => string.Equals(fault.Phase, phase, StringComparison.OrdinalIgnoreCase);

    public async Task<string?> RunAsync(Func<CancellationToken, Task<string?>> work, CancellationToken cancellationToken)
    {
        log.Warning($"Rehearsal: injecting {fault} (-FaultInjection).");
        if (fault.Kind == FaultKind.Latency)
        {
            var latency = new ResiliencePipelineBuilder().AddChaosLatency(1.0, fault.LatencyOrDefault).Build();
            return await latency.ExecuteAsync(async token => await work(token).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        }

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var chaos = Chaos(cancel);
        if (fault.Delay <= TimeSpan.Zero)
        {
            return await chaos.ExecuteAsync(async token => await work(token).ConfigureAwait(false), cancel.Token).ConfigureAwait(false);
        }

        // Into the phase: the work runs, and the fault strikes at the delay or when the work ends, whichever is first.
        var running = work(cancel.Token);
        await Task.WhenAny(running, Task.Delay(fault.Delay, cancellationToken)).ConfigureAwait(false);
        if (running.IsFaulted || running.IsCanceled)
        {
            return await running.ConfigureAwait(false); // the phase failed on its own: that failure is the one to report
        }

        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            await chaos.ExecuteAsync(_ => ValueTask.CompletedTask, cancel.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The injected failure stops the phase's own work first, so that nothing goes on behind the rollback.
            await cancel.CancelAsync().ConfigureAwait(false);
            await Task.WhenAny(running).ConfigureAwait(false);
            throw;
        }

        return await running.ConfigureAwait(false);
    }

    private ResiliencePipeline Chaos(CancellationTokenSource cancel) => fault.Kind switch
    {
        FaultKind.Exception => new ResiliencePipelineBuilder()
            .AddChaosFault(1.0, () => new InjectedFaultException($"Injected by -FaultInjection: {fault}."))
            .Build(),
        FaultKind.ConnectionDrop => new ResiliencePipelineBuilder()
            .AddChaosBehavior(1.0, async token => await dropConnection(token).ConfigureAwait(false))
            .Build(),
        _ => new ResiliencePipelineBuilder()
            .AddChaosBehavior(1.0, async _ =>
            {
                await cancel.CancelAsync().ConfigureAwait(false);
                cancel.Token.ThrowIfCancellationRequested();
            })
            .Build(),
    };
}
