using System.Diagnostics;

namespace AedDeploy.Engine;

/// <summary>What undoing live-touching work means; shared by the phases it undoes, and run once however many of them began.</summary>
public sealed record PhaseUndo(string Name, Func<CancellationToken, Task<string?>> Run);

/// <summary>
/// One declared step of a deploy: its name, where the progress bar stands when it starts, whether it changes
/// what users are served, how it runs (returning the detail the record keeps), and what undoing it means.
/// </summary>
public sealed class DeployPhase
{
    public required string Name { get; init; }

    /// <summary>The progress bar's position when the phase starts, 0–100.</summary>
    public required int Percent { get; init; }

    /// <summary>The phase changes the live state from the moment it starts; a failure from then on needs <see cref="Undo"/>.</summary>
    public bool TouchesLive { get; init; }

    /// <summary>When false at the phase's turn, the phase is left out (and not recorded).</summary>
    public Func<bool> When { get; init; } = () => true;

    public required Func<CancellationToken, Task<string?>> Run { get; init; }

    public PhaseUndo? Undo { get; init; }
}

/// <summary>
/// Runs a declared list of phases and records each. Any exception, not only AedDeploy's own, is the failure of
/// the phase it came from (only process-fatal ones pass through); the first failure stops the list, decides the
/// record's error id and reason, and leaves the undo of every live-touching phase that had begun for
/// <see cref="UndoAsync"/>.
/// </summary>
public sealed class PhaseRunner(string activity, IDeployLog log, FaultInjector? faults = null)
{
    /// <summary>The error id of a failure that is not one of AedDeploy's own.</summary>
    public const string UnexpectedFailure = "UnexpectedFailure";

    public const string Cancelled = "DeployCancelled";

    private readonly List<PhaseUndo> pending = [];

    /// <summary>Whether a live-touching phase has started: from then on a failure means a rollback.</summary>
    public bool LiveChanged { get; private set; }

    /// <summary>Runs the phases in order; returns the failure that stopped them, or null when all succeeded.</summary>
    public async Task<Exception?> RunAsync(IReadOnlyList<DeployPhase> phases, DeploymentRecord record, CancellationToken cancellationToken)
    {
        foreach (var phase in phases)
        {
            if (!phase.When())
            {
                continue;
            }

            if (phase.TouchesLive)
            {
                LiveChanged = true;
                if (phase.Undo is not null && !pending.Contains(phase.Undo))
                {
                    pending.Add(phase.Undo);
                }
            }

            var failure = await RunOneAsync(phase.Name, phase.Percent, phase.Run, record, cancellationToken, faults).ConfigureAwait(false);
            if (failure is not null)
            {
                Describe(failure, record);
                return failure;
            }
        }

        return null;
    }

    /// <summary>
    /// Runs the undo of every live-touching phase that began, the latest first, each as a recorded phase; stops at
    /// the first that fails. Returns that failure, or null when everything was undone (or nothing had to be).
    /// </summary>
    public async Task<Exception?> UndoAsync(DeploymentRecord record, CancellationToken cancellationToken)
    {
        for (var i = pending.Count - 1; i >= 0; i--)
        {
            var undo = pending[i];
            var failure = await RunOneAsync(undo.Name, 95, undo.Run, record, cancellationToken, faults: null, undoing: true).ConfigureAwait(false);
            if (failure is not null)
            {
                return failure;
            }

            pending.RemoveAt(i);
        }

        return null;
    }

    /// <summary>Whether anything is left to undo.</summary>
    public bool HasUndo => pending.Count > 0;

    /// <summary>The error id a failure is recorded with.</summary>
    public static string ErrorIdOf(Exception failure) => failure switch
    {
        AedDeployException known => known.ErrorId,
        OperationCanceledException => Cancelled,
        _ => UnexpectedFailure,
    };

    /// <summary>The reason a failure is recorded with: its first line; for an unexpected one, its type too.</summary>
    public static string ReasonOf(Exception failure) => failure switch
    {
        AedDeployException known => FirstLine(known.Message),
        OperationCanceledException => "cancelled (Ctrl+C)",
        _ => $"{failure.GetType().FullName}: {FirstLine(failure.Message)}",
    };

    /// <summary>Exceptions after which the process cannot go on safely; everything else is a phase's failure.</summary>
    public static bool IsFatal(Exception exception) =>
        exception is OutOfMemoryException or InsufficientExecutionStackException or AccessViolationException or AppDomainUnloadedException or BadImageFormatException;

    internal static string FirstLine(string message) => message.Split('\n')[0].Trim();

    private async Task<Exception?> RunOneAsync(
        string name, int percent, Func<CancellationToken, Task<string?>> run, DeploymentRecord record, CancellationToken cancellationToken,
        FaultInjector? faults, bool undoing = false)
    {
        log.Progress(activity, name, percent);
        log.Verbose($"Phase {name}.");
        var stopwatch = Stopwatch.StartNew();
        try
        {
            var detail = faults is not null && faults.Targets(name)
                ? await faults.RunAsync(run, cancellationToken).ConfigureAwait(false)
                : await run(cancellationToken).ConfigureAwait(false);
            record.Phases.Add(new PhaseRecord(name, "Succeeded", stopwatch.Elapsed, detail));
            return null;
        }
        catch (Exception ex) when (!IsFatal(ex))
        {
            if (ex is not (AedDeployException or OperationCanceledException))
            {
                log.Verbose($"Phase {name} failed with an unexpected {ex.GetType().FullName}:\n{ex}");
            }

            record.Phases.Add(new PhaseRecord(name, ex is OperationCanceledException ? "Cancelled" : "Failed", stopwatch.Elapsed, ReasonOf(ex)));
            if (!undoing)
            {
                record.FailedPhase ??= name;
            }

            return ex;
        }
    }

    private static void Describe(Exception failure, DeploymentRecord record)
    {
        record.ErrorId = ErrorIdOf(failure);
        record.Reason = ReasonOf(failure);
        record.Outcome = DeploymentOutcome.Failed;
        if (failure is AedDeployException { AppOutput: { Length: > 0 } output })
        {
            record.AppOutput = output;
        }
    }
}
