using System.Text.Json;

namespace AedDeploy;

/// <summary>
/// One PM2 process as <c>pm2 jlist</c> reports it. Only what deploys need is kept: the app's environment
/// holds secrets, so of it only the key names are read, never the values.
/// </summary>
public sealed class Pm2Process
{
    public int PmId { get; init; }

    public string Name { get; init; } = string.Empty;

    /// <summary>online, stopping, stopped, launching, errored, one-launch-status or waiting restart.</summary>
    public string Status { get; init; } = string.Empty;

    public int Pid { get; init; }

    /// <summary>Grows by one on each restart or reload of this instance.</summary>
    public int RestartTime { get; init; }

    /// <summary>The working folder PM2 stored at first start (a symlink path stays a symlink path).</summary>
    public string Cwd { get; init; } = string.Empty;

    public string ExecMode { get; init; } = string.Empty;

    /// <summary>When this instance was last (re)started.</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>The names of the environment variables PM2 gives the app (never the values).</summary>
    public IReadOnlyCollection<string> EnvironmentKeys { get; init; } = [];

    /// <summary>The file PM2 appends this instance's stdout to (pm_out_log_path); read for the app's last output on a failure.</summary>
    internal string OutLogPath { get; init; } = string.Empty;

    /// <summary>The file PM2 appends this instance's stderr to (pm_err_log_path).</summary>
    internal string ErrorLogPath { get; init; } = string.Empty;

    public bool IsOnline => Status == "online";

    /// <summary>Parses <c>pm2 jlist</c> output; anything PM2 printed before the JSON (an update notice) is skipped.</summary>
    public static IReadOnlyList<Pm2Process> ParseJlist(string output)
    {
        var start = output.IndexOf('[', StringComparison.Ordinal);
        while (start >= 0)
        {
            try
            {
                using var document = JsonDocument.Parse(output.AsMemory(start));
                return document.RootElement.EnumerateArray().Select(FromJson).ToList();
            }
            catch (JsonException)
            {
                start = output.IndexOf("\n[", start + 1, StringComparison.Ordinal);
                start = start < 0 ? -1 : start + 1;
            }
        }

        throw new AedDeployException(
            "Pm2ListUnreadable", FailureKind.InvalidResult,
            "'pm2 jlist' did not print a process list. Is PM2 installed for this user, and is the PM2 daemon (PM2_HOME) the one running the app?");
    }

    private static Pm2Process FromJson(JsonElement item)
    {
        var env = item.TryGetProperty("pm2_env", out var e) && e.ValueKind == JsonValueKind.Object ? e : default;
        long? uptime = Number(env, "pm_uptime");
        return new Pm2Process
        {
            PmId = (int)(Number(item, "pm_id") ?? Number(env, "pm_id") ?? -1),
            Name = Text(item, "name") ?? Text(env, "name") ?? string.Empty,
            Status = Text(env, "status") ?? string.Empty,
            Pid = (int)(Number(item, "pid") ?? 0),
            RestartTime = (int)(Number(env, "restart_time") ?? 0),
            Cwd = Text(env, "pm_cwd") ?? string.Empty,
            ExecMode = Text(env, "exec_mode") ?? string.Empty,
            StartedAt = uptime is > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(uptime.Value) : null,
            EnvironmentKeys = env.ValueKind == JsonValueKind.Object && env.TryGetProperty("env", out var appEnv) && appEnv.ValueKind == JsonValueKind.Object
                ? appEnv.EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal)
                : new HashSet<string>(StringComparer.Ordinal),
            OutLogPath = Text(env, "pm_out_log_path") ?? string.Empty,
            ErrorLogPath = Text(env, "pm_err_log_path") ?? string.Empty,
        };
    }

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private static long? Number(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number
            ? (long)value.GetDouble()
            : null;

    public override string ToString() => $"{Name}#{PmId} {Status} pid {Pid} restarts {RestartTime}";
}

/// <summary>A PM2 log file (of stderr when <paramref name="IsError"/>, else of stdout) and its length in bytes at one moment.</summary>
internal sealed record Pm2LogMark(string Path, long Offset, bool IsError);
