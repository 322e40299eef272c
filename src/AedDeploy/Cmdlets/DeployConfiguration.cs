using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace AedDeploy.Cmdlets;

/// <summary>
/// Reads a checked-in deploy description (deploy.psd1): <c>@{ Environments = @{ production = @{ HostName = …; AppPath = … } } }</c>.
/// Only data is read (as Import-PowerShellDataFile does: nothing in the file runs). Unknown keys are errors,
/// so that a typo never silently falls back to a default.
/// </summary>
internal static class DeployConfiguration
{
    /// <summary>The keys an environment may set: Invoke-ZeroDowntimeDeploy's parameter names.</summary>
    public static readonly IReadOnlyList<string> Keys =
    [
        "HostName", "Port", "UserName", "KeyFilePath", "KnownHostsPath", "HostKeyFingerprint",
        "AppPath", "AppName", "Layout", "Ref", "Repository", "BuildCommand", "Pm2Path", "EcosystemFile",
        "HealthUrl", "ExpectedStatus", "ContentPattern", "ProbeSource", "VerifyBuildId", "SkipBuildIdCheck", "MaximumRetryCount", "RetryIntervalSec",
        "RequiredSuccesses", "TimeoutSec", "StabilizationSec", "CachePath", "NginxTestCommand", "NginxReloadCommand", "StrictCachePurge",
        "KeepReleases", "LockWaitTimeout", "LockLease", "BuildTimeout", "BuildNiceness", "SkipBuildCache", "ReloadTimeout", "BootTestTimeout", "SkipBootTest",
        "StaticRetentionReleases", "StaticRetentionDays", "BatchSize", "BatchWait", "ThrottleLimit", "LoadBalancerUrl", "SkipStaticPool",
    ];

    public static Hashtable Load(string path, string environment)
    {
        if (!File.Exists(path))
        {
            throw new AedDeployException("ConfigurationNotFound", FailureKind.NotFound, $"The deploy configuration '{path}' does not exist.", path);
        }

        var ast = Parser.ParseFile(path, out _, out var errors);
        if (errors.Length > 0)
        {
            throw new AedDeployException("ConfigurationInvalid", FailureKind.InvalidArgument,
                $"{path} is not a valid PowerShell data file: {errors[0].Message} (line {errors[0].Extent.StartLineNumber}).", path);
        }

        if (ast.Find(a => a is HashtableAst, false) is not HashtableAst table)
        {
            throw new AedDeployException("ConfigurationInvalid", FailureKind.InvalidArgument, $"{path} holds no hashtable: see the example deploy.psd1 in the docs.", path);
        }

        Hashtable root;
        try
        {
            root = (Hashtable)table.SafeGetValue();
        }
        catch (InvalidOperationException ex)
        {
            throw new AedDeployException("ConfigurationInvalid", FailureKind.InvalidArgument, $"{path} may hold data only: {ex.Message}", path, ex);
        }

        if (root["Environments"] is not Hashtable environments || environments[environment] is not Hashtable settings)
        {
            var known = root["Environments"] is Hashtable all ? string.Join(", ", all.Keys.Cast<object>()) : "none";
            throw new AedDeployException("ConfigurationEnvironmentNotFound", FailureKind.NotFound,
                $"{path} has no environment '{environment}' under Environments (it has: {known}).", environment);
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var result = new Hashtable(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in settings)
        {
            var key = Keys.FirstOrDefault(k => string.Equals(k, entry.Key.ToString(), StringComparison.OrdinalIgnoreCase))
                ?? throw new AedDeployException("ConfigurationKeyUnknown", FailureKind.InvalidArgument,
                    $"{path}, environment '{environment}': '{entry.Key}' is not a setting. Known settings: {string.Join(", ", Keys)}.", entry.Key);
            result[key] = key is "KeyFilePath" or "KnownHostsPath" && entry.Value is string local ? ResolveLocalPath(local, folder) : entry.Value;
        }

        return result;
    }

    /// <summary>Names the environments of a configuration file, for tab completion; none when it cannot be read.</summary>
    public static IEnumerable<string> EnvironmentNames(string path)
    {
        try
        {
            var ast = Parser.ParseFile(path, out _, out var errors);
            if (errors.Length == 0 && ast.Find(a => a is HashtableAst, false) is HashtableAst table
                && table.SafeGetValue() is Hashtable root && root["Environments"] is Hashtable environments)
            {
                return environments.Keys.Cast<object>().Select(k => k.ToString()!).Order(StringComparer.OrdinalIgnoreCase).ToList();
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            // Completion offers nothing for a file it cannot read.
        }

        return [];
    }

    // Key and known_hosts paths in the file are relative to the file, and may start with ~.
    private static string ResolveLocalPath(string value, string folder)
    {
        if (value == "~" || value.StartsWith("~/", StringComparison.Ordinal))
        {
            value = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), value.TrimStart('~', '/'));
        }

        return Path.GetFullPath(value, folder);
    }
}

/// <summary>Completes -Environment from the environments of the -ConfigurationPath file.</summary>
public sealed class EnvironmentCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        if (fakeBoundParameters["ConfigurationPath"] is not string path)
        {
            return [];
        }

        return DeployConfiguration.EnvironmentNames(path)
            .Where(name => name.StartsWith(wordToComplete, StringComparison.OrdinalIgnoreCase))
            .Select(name => new CompletionResult(name, name, CompletionResultType.ParameterValue, name));
    }
}
