namespace AedDeploy.Engine;

/// <summary>
/// Where the engine reports what it does while it works. The cmdlets queue these messages and write
/// them from the pipeline thread (Verbose, Information, Warning, Progress).
/// </summary>
public interface IDeployLog
{
    void Verbose(string message);

    void Information(string message, string tag);

    void Warning(string message);

    /// <summary>Progress of the current activity; <paramref name="percent"/> from 0 to 100, or -1 when unknown.</summary>
    void Progress(string activity, string status, int percent);

    /// <summary>Progress of an activity that is part of <paramref name="parentActivity"/> (a fleet host's, under the fleet's).</summary>
    void Progress(string activity, string status, int percent, string? parentActivity) => Progress(activity, status, percent);
}

/// <summary>A log that drops everything, for callers that do not want messages.</summary>
public sealed class NullDeployLog : IDeployLog
{
    public static readonly NullDeployLog Instance = new();

    public void Verbose(string message)
    {
    }

    public void Information(string message, string tag)
    {
    }

    public void Warning(string message)
    {
    }

    public void Progress(string activity, string status, int percent)
    {
    }
}
