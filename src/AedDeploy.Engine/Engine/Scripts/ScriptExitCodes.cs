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

    /// <summary>pack-release.sh, which lists a built release's untracked outputs and writes their manifest.</summary>
    internal static class PackRelease
    {
        /// <summary>The release has no .next/BUILD_ID: it was not built.</summary>
        public const int NotBuilt = 20;

        /// <summary>git or find could not list the outputs, or the list or manifest could not be written.</summary>
        public const int ListingFailed = 21;
    }

    /// <summary>stream-release.sh, whose stdout is the archive.</summary>
    internal static class StreamRelease
    {
        /// <summary>The release, its .next/aeddeploy-ship.list or the manifest it names is missing: pack-release.sh has not run.</summary>
        public const int ListMissing = 22;

        /// <summary>tar or gzip failed: the bytes already written are not an archive to ship.</summary>
        public const int ArchiveFailed = 23;
    }

    /// <summary>receive-release.sh, which checks and extracts a shipped archive into a cloned release.</summary>
    internal static class ReceiveRelease
    {
        /// <summary>The archive that arrived is not the one sent (its sha256 differs: cut or changed on the way), or it could not be stored whole.</summary>
        public const int ArchiveMismatch = 30;

        /// <summary>After extraction a file does not match .next/aeddeploy-ship.sha256, or the manifest or BUILD_ID is missing.</summary>
        public const int ManifestMismatch = 31;

        /// <summary>The release's HEAD is not the build's commit: its tracked files are not the build's.</summary>
        public const int CommitMismatch = 32;

        /// <summary>The release folder does not exist: the engine clones and installs it before the receive.</summary>
        public const int ReleaseMissing = 33;

        /// <summary>tar could not extract the archive: damaged, or a member with '..' (refused by GNU tar).</summary>
        public const int ExtractFailed = 34;
    }

    /// <summary>identify-build.js.</summary>
    internal static class IdentifyBuild
    {
        /// <summary>No .next/BUILD_ID, a server-reference-manifest.json that is not JSON, or an ecosystem file that cannot be loaded or defines no app of that name.</summary>
        public const int Unidentifiable = 2;
    }

    /// <summary>pool-static.sh (fill and prune of the static pool nginx serves).</summary>
    internal static class PoolStatic
    {
        /// <summary>An unknown mode or a missing argument.</summary>
        public const int Usage = 2;

        /// <summary>A hard link into the pool could not be made: the pool must be on the releases' file system and writable.</summary>
        public const int LinkFailed = 40;

        /// <summary>fill: the release has no .next/static (not built).</summary>
        public const int ReleaseNotBuilt = 41;
    }
}
