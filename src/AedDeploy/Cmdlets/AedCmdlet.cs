using System.Collections.Concurrent;
using System.Management.Automation;
using AedDeploy.Engine;

namespace AedDeploy.Cmdlets;

/// <summary>
/// What every AedDeploy cmdlet shares: a cancellation token that Ctrl+C cancels, engine work run off the
/// pipeline thread while its messages are written from the pipeline thread, and errors with stable ids.
/// </summary>
public abstract class AedCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource stopping = new();
    private bool disposed;

    /// <summary>Cancelled when the user presses Ctrl+C or the pipeline is stopped.</summary>
    protected CancellationToken CancelToken => stopping.Token;

    public void Dispose()
    {
        if (!disposed)
        {
            disposed = true;
            stopping.Dispose();
        }

        GC.SuppressFinalize(this);
    }

    protected override void StopProcessing() => stopping.Cancel();

    /// <summary>
    /// Runs engine work on the thread pool and pumps its log messages to the PowerShell streams until it ends.
    /// An <see cref="AedDeployException"/> becomes a terminating error with its id; Ctrl+C becomes PipelineStoppedException.
    /// </summary>
    protected T RunEngine<T>(Func<IDeployLog, CancellationToken, Task<T>> work, object? target = null)
    {
        using var messages = new BlockingCollection<Action<AedCmdlet>>();
        var log = new QueuedLog(messages);
        var task = Task.Run(async () =>
        {
            try
            {
                return await work(log, CancelToken).ConfigureAwait(false);
            }
            finally
            {
                messages.CompleteAdding();
            }
        });

        // After Ctrl+C the streams refuse writes, but the work still finishes its clean-up (rollback,
        // unlock, history): its messages are drained and dropped until it ends.
        foreach (var write in messages.GetConsumingEnumerable())
        {
            if (CancelToken.IsCancellationRequested)
            {
                continue;
            }

            try
            {
                write(this);
            }
            catch (PipelineStoppedException)
            {
                stopping.Cancel();
            }
        }

        if (!CancelToken.IsCancellationRequested)
        {
            log.CompleteProgress(this);
        }

        try
        {
            return task.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (CancelToken.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
        catch (AedDeployException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex, target));
            throw;
        }
        catch (Exception ex) when (!PhaseRunner.IsFatal(ex))
        {
            // Not one of ours (a bug, or something nobody foresaw): still an error with an id, the details in Verbose.
            WriteVerbose($"{MyInvocation.MyCommand.Name} failed with an unexpected {ex.GetType().FullName}:\n{ex}");
            ThrowTerminatingError(ToErrorRecord(
                new AedDeployException(
                    PhaseRunner.UnexpectedFailure, FailureKind.InvalidOperation,
                    $"{MyInvocation.MyCommand.Name} failed unexpectedly: {PhaseRunner.ReasonOf(ex)} (the stack trace is in the Verbose stream).", target, ex),
                target));
            throw;
        }
    }

    /// <summary>Runs engine work that has no result.</summary>
    protected void RunEngine(Func<IDeployLog, CancellationToken, Task> work, object? target = null) =>
        RunEngine<bool>(async (log, token) =>
        {
            await work(log, token).ConfigureAwait(false);
            return true;
        }, target);

    protected static ErrorRecord ToErrorRecord(AedDeployException ex, object? target = null)
    {
        var category = ex.Kind switch
        {
            FailureKind.InvalidArgument => ErrorCategory.InvalidArgument,
            FailureKind.Security => ErrorCategory.SecurityError,
            FailureKind.Authentication => ErrorCategory.AuthenticationError,
            FailureKind.Connection => ErrorCategory.ConnectionError,
            FailureKind.Timeout => ErrorCategory.OperationTimeout,
            FailureKind.Cancelled => ErrorCategory.OperationStopped,
            FailureKind.InvalidResult => ErrorCategory.InvalidResult,
            FailureKind.NotFound => ErrorCategory.ObjectNotFound,
            FailureKind.ResourceBusy => ErrorCategory.ResourceBusy,
            _ => ErrorCategory.InvalidOperation,
        };
        return new ErrorRecord(ex, ex.ErrorId, category, target ?? ex.Target);
    }

    /// <summary>Stops the cmdlet with an argument error before anything was done.</summary>
    protected void ThrowArgumentError(string errorId, string message, object? target)
    {
        ThrowTerminatingError(new ErrorRecord(new ArgumentException(message), errorId, ErrorCategory.InvalidArgument, target));
    }

    /// <summary>Log messages from engine threads, queued for the pipeline thread.</summary>
    private sealed class QueuedLog(BlockingCollection<Action<AedCmdlet>> messages) : IDeployLog
    {
        private readonly ConcurrentDictionary<string, int> activityIds = new(StringComparer.Ordinal);
        private int lastActivityId;

        public void Verbose(string message) => Post(c => c.WriteVerbose(message));

        public void Information(string message, string tag) => Post(c => c.WriteInformation(message, [tag]));

        public void Warning(string message) => Post(c => c.WriteWarning(message));

        public void Progress(string activity, string status, int percent) => Progress(activity, status, percent, null);

        public void Progress(string activity, string status, int percent, string? parentActivity)
        {
            var id = activityIds.GetOrAdd(activity, _ => Interlocked.Increment(ref lastActivityId));
            var parent = parentActivity is null ? -1 : activityIds.GetOrAdd(parentActivity, _ => Interlocked.Increment(ref lastActivityId));
            Post(c => c.WriteProgress(new ProgressRecord(id, activity, status)
            {
                ParentActivityId = parent,
                PercentComplete = Math.Min(percent, 100),
                RecordType = percent >= 100 ? ProgressRecordType.Completed : ProgressRecordType.Processing,
            }));
        }

        /// <summary>Closes every progress bar the work opened, also when it ended early.</summary>
        public void CompleteProgress(AedCmdlet cmdlet)
        {
            foreach (var (activity, id) in activityIds)
            {
                cmdlet.WriteProgress(new ProgressRecord(id, activity, "Done") { RecordType = ProgressRecordType.Completed });
            }
        }

        private void Post(Action<AedCmdlet> write)
        {
            try
            {
                messages.Add(write);
            }
            catch (InvalidOperationException)
            {
                // The work has ended and the pump stopped: a late message has nowhere to go.
            }
        }
    }
}
