namespace AedDeploy;

/// <summary>What kind of failure an <see cref="AedDeployException"/> is; the cmdlets map it to an ErrorCategory.</summary>
public enum FailureKind
{
    InvalidArgument,
    Security,
    Authentication,
    Connection,
    Timeout,
    Cancelled,
    InvalidOperation,
    InvalidResult,
    NotFound,
    ResourceBusy,
}

/// <summary>
/// A failure the engine can explain: a stable <see cref="ErrorId"/> that scripts and tests can match,
/// a <see cref="Kind"/>, the target it concerns, and a message that says what to do.
/// </summary>
public class AedDeployException : Exception
{
    public AedDeployException(string errorId, FailureKind kind, string message, object? target = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
    }

    public string ErrorId { get; }

    public FailureKind Kind { get; }

    public object? Target { get; }

    /// <summary>
    /// The app's own last output when the app is at fault (the boot test's output, the PM2 log lines its new
    /// workers wrote, the build's tail): bounded, never the app's environment.
    /// </summary>
    public string? AppOutput { get; init; }
}
