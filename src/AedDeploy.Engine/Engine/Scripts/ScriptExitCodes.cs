namespace AedDeploy.Engine;

/// <summary>
/// The exit codes the scripts beside this file give, by script: the one place C# reads them from. Each
/// script's header lists the same numbers (ScriptExitCodesTests checks that every one is declared here and
/// used there). Codes are per script and some repeat across scripts with another meaning: scripts on other
/// branches already rely on them, so they were named, not renumbered.
/// </summary>
internal static class ScriptExitCodes
{
    /// <summary>fetch-release.sh and fetch-inplace.sh, which share their failure messages.</summary>
    internal static class Fetch
    {
        public const int ReleaseExists = 10;
        public const int RefNotFound = 11;
        public const int FetchFailed = 12;

        /// <summary>fetch-inplace.sh only: the reset began, so the live checkout may have changed.</summary>
        public const int ResetFailed = 13;
    }

    /// <summary>build-app.sh; any other failure is the build command's own status.</summary>
    internal static class BuildApp
    {
        public const int PrismaGenerateFailed = 14;
    }

    /// <summary>clear-nginx-cache.sh.</summary>
    internal static class ClearNginxCache
    {
        public const int NoCacheFolder = 3;
        public const int ConfigurationRejected = 4;
        public const int ReloadFailed = 5;
    }

    /// <summary>restore-inplace.sh.</summary>
    internal static class RestoreInPlace
    {
        public const int NoBackup = 3;
        public const int CommitMissing = 4;
    }

    /// <summary>inspect-ecosystem.js.</summary>
    internal static class InspectEcosystem
    {
        public const int Unloadable = 2;
    }

    /// <summary>lock.sh.</summary>
    internal static class Lock
    {
        public const int UnknownAction = 2;
        public const int HeldByAnother = 8;
        public const int Held = 9;

        /// <summary>acquire: the lock was taken over from a holder whose lease had expired (its info is printed).</summary>
        public const int TakenOver = 10;
    }
}
