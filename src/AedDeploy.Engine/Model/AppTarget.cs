namespace AedDeploy;

/// <summary>How an app is laid out on its server.</summary>
public enum DeployLayout
{
    /// <summary><c>releases/&lt;id&gt;</c>, a <c>current</c> symlink, <c>shared/</c> and <c>.aeddeploy/</c>: zero-downtime.</summary>
    Release,

    /// <summary>One checkout with <c>.next</c> and <c>.next.backup</c>, as the hand-written process kept it.</summary>
    InPlace,
}

/// <summary>Where an app lives on its server and how PM2 knows it. Paths are validated when it is made.</summary>
public sealed class AppTarget
{
    public AppTarget(string appPath, string appName, DeployLayout layout, string? pm2Command = null, string? ecosystemFile = null)
        : this(appPath, appName, layout, pm2Command, ecosystemFile, nameRequired: true)
    {
    }

    private AppTarget(string appPath, string? appName, DeployLayout layout, string? pm2Command, string? ecosystemFile, bool nameRequired)
    {
        AppPath = Names.ValidateRemotePath(appPath, "The app path");
        AppName = appName is null && !nameRequired ? string.Empty : Names.ValidateAppName(appName);
        Layout = layout;
        Pm2Command = string.IsNullOrWhiteSpace(pm2Command) ? "pm2" : pm2Command;
        EcosystemFile = string.IsNullOrWhiteSpace(ecosystemFile) ? "ecosystem.config.cjs" : ecosystemFile;
        if (EcosystemFile.Contains('/') || EcosystemFile.StartsWith('.'))
        {
            throw new AedDeployException(
                "InvalidEcosystemFile", FailureKind.InvalidArgument,
                $"The ecosystem file '{Names.Printable(EcosystemFile)}' must be a file name in the app's folder, such as ecosystem.config.cjs.",
                EcosystemFile);
        }
    }

    /// <summary>
    /// A target known by its path alone, for what lives under <c>.aeddeploy</c> and belongs to the path (the lock,
    /// the history): <see cref="AppName"/> is the given name, or empty when none was given. Nothing that talks to
    /// PM2 may use such a target.
    /// </summary>
    public static AppTarget ForState(string appPath, string? appName, DeployLayout layout) =>
        new(appPath, appName, layout, null, null, nameRequired: false);

    /// <summary>The app's root: the checkout (InPlace) or the folder holding releases/ and current (Release).</summary>
    public string AppPath { get; }

    /// <summary>The app's name in PM2; empty for a target made <see cref="ForState"/> without one.</summary>
    public string AppName { get; }

    public DeployLayout Layout { get; }

    /// <summary>How PM2 is called on the server (a name on PATH or an absolute path).</summary>
    public string Pm2Command { get; }

    public string EcosystemFile { get; }

    /// <summary>The folder the live app runs from: the checkout, or the <c>current</c> symlink.</summary>
    public string LivePath => Layout == DeployLayout.Release ? $"{AppPath}/current" : AppPath;

    public string ReleasesPath => $"{AppPath}/releases";

    public string SharedPath => $"{AppPath}/shared";

    /// <summary>AedDeploy's own files on the server: lock, history, release records (in the InPlace layout, excluded from git).</summary>
    public string StatePath => $"{AppPath}/.aeddeploy";

    public string ReleasePath(string releaseId) => $"{ReleasesPath}/{Names.ValidateReleaseId(releaseId)}";

    public override string ToString() => $"{AppName} ({Layout}) at {AppPath}";
}
