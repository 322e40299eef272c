#Requires -Version 7.4
# Real-components test rig for AedDeploy: a private sshd, a dedicated deploy user, PM2 in cluster
# mode running the Next.js fixture app, nginx with proxy_cache and a bare git origin, all on
# loopback, all stopped by pid. See "Test rig" in DESIGN.md.
Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

$script:RepoRoot = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
$script:CacheRoot = Join-Path $script:RepoRoot '.cache'
$script:FixtureSource = Join-Path $script:RepoRoot 'tests/fixture-app'
$script:PreloadSource = Join-Path $script:RepoRoot 'src/AedDeploy.Engine/Engine/Scripts/ready-preload.cjs'
$script:Pm2Version = '7.0.4'
$script:Pm2Prefix = Join-Path $script:CacheRoot "pm2-$script:Pm2Version"
$script:NpmCache = Join-Path $script:CacheRoot 'npm'
$script:SystemPath = '/usr/local/bin:/usr/bin:/bin'
$script:AppName = 'fixture'
$script:VersionFile = 'app/version.ts'
# Publish-AedFixtureVersion writes the version into each of these: the lazy chunk's module holds a copy of its own,
# so that the chunk a click loads changes with every version (Browser.Tests.ps1).
$script:VersionFiles = @($script:VersionFile, 'app/lazy/message.ts')
$script:VersionPattern = "APP_VERSION = '([^']*)'"

# Named breakages for Publish-AedFixtureVersion. Each is a list of edits applied to the pristine
# fixture source (never on top of an earlier breakage). Edit kinds: Content (write a whole file),
# Append, Find/Replace (Find must occur exactly once), AddDependency/Version (package.json and lock).
$script:FixtureChanges = @{
    # Only the version constant changes.
    None            = @()
    # A type error in a file tsconfig includes: `next build` stops in its TypeScript step.
    TypeScriptError = @(
        @{ Path = 'app/type-error.ts'; Content = "export const typeError: number = 'not a number';`n" }
    )
    # A version of a real package that was never published, in package.json and the lockfile alike,
    # so `npm ci` passes its sync check and then fails to fetch it.
    BadDependency   = @(
        @{ AddDependency = 'left-pad'; Version = '999.999.999' }
    )
    # A syntax error: loading the ecosystem file throws, so `pm2 start|reload ecosystem.config.cjs` fails.
    BrokenEcosystem = @(
        @{ Path = 'ecosystem.config.cjs'; Append = "`n}}} // fixture BrokenEcosystem`n" }
    )
    # Builds fine (the build phase loads the config without error), but `next start` loads it in the
    # production-server phase, throws and exits: PM2 crash-loops the workers.
    CrashAtBoot     = @(
        @{
            Path    = 'next.config.mjs'
            Find    = 'export default nextConfig;'
            Replace = @"
export default function config(phase) {
  if (phase === 'phase-production-server') throw new Error('fixture CrashAtBoot: refusing to start');
  return nextConfig(phase);
}
"@
        }
    )
    # Next's proxy (formerly middleware) answers 500 to every request, /api/health included, while
    # the process stays up and PM2 shows it online.
    Answer500       = @(
        @{
            Path    = 'proxy.ts'
            Content = @"
export function proxy() {
  return new Response('fixture Answer500', { status: 500 });
}

"@
        }
    )
    # /api/health waits 10 s before answering; pages are unaffected.
    SlowHealth      = @(
        @{
            Path    = 'app/api/health/route.ts'
            Find    = 'export function GET() {'
            Replace = "export async function GET() {`n  await new Promise((resolve) => setTimeout(resolve, 10_000));"
        }
    )
    # The ecosystem file prints when it is loaded, as real ones do (dotenv 17 logs a line by default, JSON
    # loggers print JSON): lines on stdout and stderr, one a JSON object shaped like a script's answer.
    NoisyEcosystem  = @(
        @{
            Path    = 'ecosystem.config.cjs'
            Find    = "const dotEnv = readDotEnv(path.join(__dirname, '.env'));`n"
            Replace = @"
const dotEnv = readDotEnv(path.join(__dirname, '.env'));
console.log('[dotenv@17.2.3] injecting env (' + Object.keys(dotEnv).length + ') from .env -- fixture NoisyEcosystem');
console.log(JSON.stringify({ found: false, envKeys: [], waitReady: false, listenTimeout: 1, nodeArgs: [], cwd: '/forged', passed: false, note: 'fixture NoisyEcosystem stdout' }));
console.error(JSON.stringify({ level: 'info', msg: 'fixture NoisyEcosystem stderr' }));
console.error('fixture NoisyEcosystem plain stderr');

"@
        }
    )
    # next.config prints when it is loaded (by next build, and by next start in every worker).
    NoisyNextConfig = @(
        @{
            Path    = 'next.config.mjs'
            Find    = 'export default nextConfig;'
            Replace = @"
console.log('fixture NoisyNextConfig stdout');
console.log(JSON.stringify({ buildId: 'forged', checks: [], note: 'fixture NoisyNextConfig json' }));
console.error('fixture NoisyNextConfig stderr');
export default nextConfig;
"@
        }
    )
    # /api/health throws (Next answers 500 and logs the error on stderr); pages are unaffected, so the
    # workers still get ready. The thrown text is what the deploy's error must show.
    HealthThrows    = @(
        @{
            Path    = 'app/api/health/route.ts'
            Find    = 'export function GET() {'
            Replace = "export function GET() {`n  if (process.env.NODE_ENV === 'production') throw new Error('fixture HealthThrows: the health route threw');"
        }
    )
    # Drops FEATURE_FLAG=on from the ecosystem env; /api/health reports featureFlag. `pm2 reload
    # --update-env` keeps the old key, so only a fresh start shows featureFlag: null.
    RemoveEnvKey    = @(
        @{ Path = 'ecosystem.config.cjs'; Find = "        FEATURE_FLAG: 'on',`n"; Replace = '' }
    )
}

$script:HttpClient = [Net.Http.HttpClient]::new(
    [Net.Http.SocketsHttpHandler]@{ UseProxy = $false; AllowAutoRedirect = $false; UseCookies = $false })
$script:HttpClient.Timeout = [Threading.Timeout]::InfiniteTimeSpan

#region private helpers

function Start-RigProcess {
    # Starts a program with its output sent to files, not pipes: a daemon it spawns (nginx, the PM2
    # God process) inherits those descriptors, and a pipe would keep the caller waiting for EOF.
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [string] $WorkingDirectory,
        [string] $InputText
    )
    $run = [pscustomobject]@{
        Description = "'$FilePath $($ArgumentList -join ' ')'"
        Process     = $null
        OutFile     = [IO.Path]::GetTempFileName()
        ErrFile     = [IO.Path]::GetTempFileName()
        InFile      = '/dev/null'
    }
    if ($PSBoundParameters.ContainsKey('InputText')) {
        $run.InFile = [IO.Path]::GetTempFileName()
        [IO.File]::WriteAllText($run.InFile, $InputText)
    }
    $psi = [Diagnostics.ProcessStartInfo]::new('/bin/bash')
    foreach ($a in @('-c', 'i=$1 o=$2 e=$3; shift 3; exec "$@" <"$i" >"$o" 2>"$e"', 'rig-exec', $run.InFile, $run.OutFile, $run.ErrFile, $FilePath) + $ArgumentList) {
        $psi.ArgumentList.Add($a)
    }
    $psi.UseShellExecute = $false
    if ($WorkingDirectory) { $psi.WorkingDirectory = $WorkingDirectory }
    $run.Process = [Diagnostics.Process]::Start($psi)
    $run
}

function Wait-RigProcess {
    # Returns ExitCode, StdOut and StdErr; throws on a non-zero exit unless -AllowFailure.
    param([Parameter(Mandatory)] $Run, [int] $TimeoutSec = 600, [switch] $AllowFailure)
    try {
        if (-not $Run.Process.WaitForExit($TimeoutSec * 1000)) {
            $Run.Process.Kill($true)
            throw "$($Run.Description) timed out after $TimeoutSec s"
        }
        $result = [pscustomobject]@{
            ExitCode = $Run.Process.ExitCode
            StdOut   = [IO.File]::ReadAllText($Run.OutFile)
            StdErr   = [IO.File]::ReadAllText($Run.ErrFile)
        }
    }
    finally {
        $Run.Process.Dispose()
        Remove-Item -LiteralPath $Run.OutFile, $Run.ErrFile -Force -ErrorAction Ignore
        if ($Run.InFile -ne '/dev/null') { Remove-Item -LiteralPath $Run.InFile -Force -ErrorAction Ignore }
    }
    if ($result.ExitCode -ne 0 -and -not $AllowFailure) {
        $detail = ($result.StdErr.Trim(), $result.StdOut.Trim() | Where-Object { $_ } | Select-Object -First 1)
        if ($detail -and $detail.Length -gt 4000) { $detail = '...' + $detail.Substring($detail.Length - 4000) }
        throw "$($Run.Description) exited with $($result.ExitCode): $detail"
    }
    $result
}

function Invoke-RigProcess {
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [string] $WorkingDirectory,
        [string] $InputText,
        [int] $TimeoutSec = 600,
        [switch] $AllowFailure
    )
    $startArgs = @{ FilePath = $FilePath; ArgumentList = $ArgumentList; WorkingDirectory = $WorkingDirectory }
    if ($PSBoundParameters.ContainsKey('InputText')) { $startArgs.InputText = $InputText }
    Wait-RigProcess -Run (Start-RigProcess @startArgs) -TimeoutSec $TimeoutSec -AllowFailure:$AllowFailure
}

function Invoke-RigUserShell {
    # The same environment the rig's sshd gives a session (SetEnv), so local and SSH runs agree.
    param(
        [Parameter(Mandatory)] $Rig,
        [Parameter(Mandatory)] [string] $Command,
        [int] $TimeoutSec = 600,
        [switch] $AllowFailure
    )
    $envArgs = @("HOME=$($Rig.Home)", "USER=$($Rig.UserName)", "LOGNAME=$($Rig.UserName)", 'SHELL=/bin/bash') +
        @($Rig.Environment.GetEnumerator() | ForEach-Object { "$($_.Key)=$($_.Value)" })
    $argv = @('-i') + $envArgs + @('/bin/bash', '-c', $Command)
    if ($Rig.DedicatedUser) {
        Invoke-RigProcess -FilePath '/usr/sbin/runuser' -ArgumentList (@('-u', $Rig.UserName, '--', '/usr/bin/env') + $argv) `
            -WorkingDirectory $Rig.Home -TimeoutSec $TimeoutSec -AllowFailure:$AllowFailure
    }
    else {
        Invoke-RigProcess -FilePath '/usr/bin/env' -ArgumentList $argv -WorkingDirectory $Rig.Home `
            -TimeoutSec $TimeoutSec -AllowFailure:$AllowFailure
    }
}

function ConvertTo-ShellLiteral {
    param([Parameter(Mandatory)] [AllowEmptyString()] [string] $Value)
    "'" + $Value.Replace("'", "'\''") + "'"
}

function New-RigSecret {
    param([int] $Bytes = 18)
    [Convert]::ToHexString([Security.Cryptography.RandomNumberGenerator]::GetBytes($Bytes)).ToLowerInvariant()
}

function Get-FreeTcpPort {
    # Free on the address the daemon will bind: a fleet rig's hosts each listen on their own 127.0.0.N.
    param([string] $Address = '127.0.0.1')
    $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Parse($Address), 0)
    $listener.Start()
    try { $listener.LocalEndpoint.Port } finally { $listener.Stop() }
}

function New-RigDirectory {
    param([Parameter(Mandatory)] [string] $Path, [string] $Mode = '755', [string] $Owner)
    $null = Invoke-RigProcess -FilePath '/usr/bin/install' -ArgumentList (@('-d', '-m', $Mode) + $(if ($Owner) { '-o', $Owner, '-g', $Owner }) + $Path)
}

function Set-RigFile {
    # Writes a file with the mode (and owner) it needs before anyone can read it.
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [AllowEmptyString()] [string] $Content, [string] $Mode = '644', [string] $Owner)
    [IO.File]::WriteAllText($Path, $Content)
    $null = Invoke-RigProcess -FilePath '/usr/bin/chmod' -ArgumentList $Mode, $Path
    if ($Owner) { $null = Invoke-RigProcess -FilePath '/usr/bin/chown' -ArgumentList "${Owner}:$Owner", $Path }
}

function Get-RigProcessTable {
    # One pass over /proc: pid, parent, real uid, state, start time (clock ticks since boot; with the
    # pid it identifies a process even after its pid is reused) and the command line.
    $table = @{}
    foreach ($dir in [IO.Directory]::EnumerateDirectories('/proc')) {
        $name = [IO.Path]::GetFileName($dir)
        if ($name -notmatch '^\d+$') { continue }
        try {
            $stat = [IO.File]::ReadAllText("$dir/stat")
            $status = [IO.File]::ReadAllText("$dir/status")
            $cmdline = [IO.File]::ReadAllText("$dir/cmdline").Replace([char]0, ' ').Trim()
        }
        catch { continue }
        $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
        $uid = [regex]::Match($status, '(?m)^Uid:\s+(\d+)').Groups[1].Value
        $table[[int]$name] = [pscustomobject]@{
            Pid       = [int]$name
            State     = $fields[0]
            PPid      = [int]$fields[1]
            StartTime = $fields[19]
            Uid       = [int]$uid
            CommandLine = $cmdline
        }
    }
    $table
}

function Add-RigPid {
    param([Parameter(Mandatory)] $Rig, [Parameter(Mandatory)] [string] $Name, [int[]] $Id, [switch] $Many)
    $table = Get-RigProcessTable
    foreach ($i in $Id) {
        if ($table.ContainsKey($i)) { $Rig.PidStartTimes["$i"] = $table[$i].StartTime }
    }
    if ($Many) { $Rig.Pids[$Name] = [int[]]$Id } else { $Rig.Pids[$Name] = $Id[0] }
}

function Get-RigPidFileProcess {
    # A pid file only counts while the process behind it names this rig's own file in its command
    # line (sshd config, nginx config, PM2 home): a reused pid never matches.
    param($Table, [string] $Path, [string] $RigPath)
    if (-not $Path -or -not $RigPath -or -not (Test-Path -LiteralPath $Path)) { return }
    $text = (Get-Content -LiteralPath $Path -Raw -ErrorAction Ignore)
    if ($text -notmatch '^\s*(\d+)') { return }
    $entry = $Table[[int]$Matches[1]]
    if ($entry -and $entry.State -ne 'Z' -and $entry.CommandLine.Contains($RigPath)) { $entry.Pid }
}

function Get-RigDaemonPidFile {
    # The pid file of each daemon the rig runs, with the rig path its command line shows.
    param($Rig)
    @{ Path = $Rig.SshdPidPath; RigPath = $Rig.SshdConfigPath }
    if ($Rig.NginxPrefix) { @{ Path = Join-Path $Rig.NginxPrefix 'nginx.pid'; RigPath = $Rig.NginxConfPath } }
    if ($Rig.Pm2Home) { @{ Path = Join-Path $Rig.Pm2Home 'pm2.pid'; RigPath = "($($Rig.Pm2Home))" } }
}

function Test-RigCommand {
    param([Parameter(Mandatory)] [string] $Path)
    [IO.File]::Exists($Path)
}

function Get-RigFixtureFile {
    # The fixture's source exactly as git sees it (tracked or not yet committed, minus ignored
    # build output), so the cache key and the origin's first commit agree.
    $r = Invoke-RigProcess -FilePath '/usr/bin/git' -ArgumentList '-C', $script:FixtureSource, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'
    $r.StdOut.Split([char]0, [StringSplitOptions]::RemoveEmptyEntries) |
        Where-Object { [IO.File]::Exists((Join-Path $script:FixtureSource $_)) } |
        Sort-Object -Unique
}

function Copy-RigFixtureSource {
    param([Parameter(Mandatory)] [string] $Destination)
    foreach ($relative in Get-RigFixtureFile) {
        $target = Join-Path $Destination $relative
        $null = [IO.Directory]::CreateDirectory([IO.Path]::GetDirectoryName($target))
        [IO.File]::Copy((Join-Path $script:FixtureSource $relative), $target, $true)
    }
}

function Install-RigPm2 {
    # Installed once per checkout and shared read-only by every rig; built beside and renamed into
    # place so a concurrent rig never sees half an install.
    $bin = Join-Path $script:Pm2Prefix 'bin/pm2'
    if (Test-RigCommand $bin) { return $bin }
    New-RigDirectory -Path $script:CacheRoot
    $staging = "$script:Pm2Prefix.tmp-$(New-RigSecret 4)"
    try {
        $null = Invoke-RigProcess -FilePath '/usr/bin/npm' -ArgumentList 'install', '--global', '--prefix', $staging,
            "pm2@$script:Pm2Version", '--no-audit', '--no-fund', '--loglevel=error' -TimeoutSec 600
        $null = Invoke-RigProcess -FilePath '/usr/bin/chmod' -ArgumentList '-R', 'a+rX', $staging
        try { [IO.Directory]::Move($staging, $script:Pm2Prefix) }
        catch { if (-not (Test-RigCommand $bin)) { throw } }
    }
    finally {
        if (Test-Path -LiteralPath $staging) { Remove-Item -LiteralPath $staging -Recurse -Force }
    }
    $bin
}

function Get-RigNginxHead {
    # The start of an nginx.conf for an nginx whose every file lives under -Prefix (pid, logs, temp paths), up to
    # and including the opening of its http block: the caller writes the rest of the block and closes it.
    param([Parameter(Mandatory)] [string] $Prefix)
    $p = $Prefix
    $errorLog = "$p/logs/error.log"
    @"
worker_processes 1;
pid $p/nginx.pid;
error_log $errorLog warn;
events { worker_connections 512; }
http {
    access_log $p/logs/access.log;
    client_body_temp_path $p/temp/client_body;
    proxy_temp_path $p/temp/proxy;
    fastcgi_temp_path $p/temp/fastcgi;
    uwsgi_temp_path $p/temp/uwsgi;
    scgi_temp_path $p/temp/scgi;
"@
}

function Get-RigFixtureBuild {
    # `npm ci` + `next build` of the fixture, once per content hash, reused by every rig.
    $files = Get-RigFixtureFile
    $sha = [Security.Cryptography.IncrementalHash]::CreateHash([Security.Cryptography.HashAlgorithmName]::SHA256)
    $nodeVersion = (Invoke-RigProcess -FilePath '/usr/bin/node' -ArgumentList '--version').StdOut.Trim()
    $sha.AppendData([Text.Encoding]::UTF8.GetBytes("node $nodeVersion`n"))
    foreach ($relative in $files) {
        $sha.AppendData([Text.Encoding]::UTF8.GetBytes("$relative`n"))
        $sha.AppendData([IO.File]::ReadAllBytes((Join-Path $script:FixtureSource $relative)))
    }
    $key = [Convert]::ToHexString($sha.GetHashAndReset()).Substring(0, 16).ToLowerInvariant()
    $buildsRoot = Join-Path $script:CacheRoot 'fixture'
    $build = Join-Path $buildsRoot $key
    if (Test-Path -LiteralPath (Join-Path $build '.next/BUILD_ID')) { return $build }

    New-RigDirectory -Path $script:CacheRoot
    New-RigDirectory -Path $buildsRoot
    $staging = "$build.tmp-$(New-RigSecret 4)"
    try {
        Copy-RigFixtureSource -Destination $staging
        $null = Invoke-RigProcess -FilePath '/usr/bin/npm' -ArgumentList 'ci', '--prefer-offline', '--cache', $script:NpmCache, '--loglevel=error' `
            -WorkingDirectory $staging -TimeoutSec 900
        $null = Invoke-RigProcess -FilePath '/usr/bin/env' -ArgumentList 'NEXT_TELEMETRY_DISABLED=1', '/usr/bin/node', 'node_modules/next/dist/bin/next', 'build' `
            -WorkingDirectory $staging -TimeoutSec 900
        $null = Invoke-RigProcess -FilePath '/usr/bin/chmod' -ArgumentList '-R', 'a+rX', $staging
        try { [IO.Directory]::Move($staging, $build) }
        catch { if (-not (Test-Path -LiteralPath (Join-Path $build '.next/BUILD_ID'))) { throw } }
    }
    finally {
        if (Test-Path -LiteralPath $staging) { $null = Invoke-RigProcess -FilePath '/bin/rm' -ArgumentList '-rf', '--', $staging }
    }
    # Builds of earlier fixture sources are dead weight (hundreds of MB each).
    Get-ChildItem -LiteralPath $buildsRoot -Directory | Where-Object { $_.Name -match '^[0-9a-f]{16}$' -and $_.Name -ne $key } |
        ForEach-Object { $null = Invoke-RigProcess -FilePath '/bin/rm' -ArgumentList '-rf', '--', $_.FullName }
    $build
}

function New-RigObject {
    # Every property exists from the start, so Stop-AedRig can read a rig stopped half-way.
    param([Parameter(Mandatory)] [string] $Name, [string] $Layout = 'InPlace')
    [pscustomobject]@{
        Name                 = $Name
        Layout               = $Layout
        Root                 = $null
        HostName             = '127.0.0.1'
        SshPort              = $null
        UserName             = $null
        UserId               = $null
        DedicatedUser        = $false
        Password             = $null
        Home                 = $null
        KeyPath              = $null
        RsaPemKeyPath        = $null
        EncryptedKeyPath     = $null
        KeyPassphrase        = $null
        KnownHostsPath       = $null
        HashedKnownHostsPath = $null
        HostKeyFingerprint   = $null
        HostKeyPaths         = $null
        OtherHostKeyPath     = $null
        OtherKnownHostsPath  = $null
        SshdConfigPath       = $null
        SshdLogPath          = $null
        SshdPidPath          = $null
        AppName              = $script:AppName
        AppRoot              = $null
        LivePath             = $null
        ReleasePath          = $null
        AppPort              = $null
        ReadyPreloadPath     = $null
        NginxPort            = $null
        NginxPrefix          = $null
        NginxConfPath        = $null
        NginxCachePath       = $null
        NginxTestCommand     = $null
        NginxReloadCommand   = $null
        StaticPoolConfPath   = $null
        OriginPath           = $null
        OriginUrl            = $null
        WorkTreePath         = $null
        BaseCommit           = $null
        Pm2Bin               = $null
        Pm2Home              = $null
        Environment          = $null
        Version              = $null
        Commit               = $null
        Pids                 = @{}
        PidStartTimes        = @{}
        Timings              = [ordered]@{}
        Stopped              = $false
    }
}

function Get-RigOrphan {
    # A test process killed before its AfterAll leaves its rig behind: a user, maybe daemons and
    # ~550 MB of tmpfs. The owner file names the process that started the rig; once that process
    # is gone the rig is nobody's, and this rebuilds enough of it for Stop-AedRig (which then finds
    # its daemons by their pid files and the user's processes by uid).
    param([Parameter(Mandatory)] [string] $Base)
    if (-not (Test-Path -LiteralPath $Base)) { return }
    $table = Get-RigProcessTable
    foreach ($dir in Get-ChildItem -LiteralPath $Base -Directory) {
        if ($dir.Name -notmatch '^aedrig[0-9a-f]{6}$') { continue }
        $ownerText = Get-Content -LiteralPath (Join-Path $dir.FullName 'owner') -Raw -ErrorAction Ignore
        if ($ownerText -match '^(\d+) (\d+)') {
            $owner = $table[[int]$Matches[1]]
            if ($owner -and $owner.StartTime -eq $Matches[2]) { continue }
        }
        # Without an owner file the rig may be one being created this very moment.
        elseif ($dir.LastWriteTimeUtc -gt [DateTime]::UtcNow.AddMinutes(-10)) { continue }
        $rig = New-RigObject -Name $dir.Name
        $rig.Root = $dir.FullName
        $rig.SshdConfigPath = Join-Path $rig.Root 'sshd/sshd_config'
        $rig.SshdPidPath = Join-Path $rig.Root 'sshd/sshd.pid'
        $rig.NginxPrefix = Join-Path $rig.Root 'nginx'
        $rig.NginxConfPath = Join-Path $rig.NginxPrefix 'nginx.conf'
        $rig.Pm2Home = Join-Path $rig.Root 'home/.pm2'
        $passwd = (Invoke-RigProcess -FilePath '/usr/bin/getent' -ArgumentList 'passwd', $dir.Name -AllowFailure).StdOut.Split(':')
        if ($passwd.Count -ge 6 -and $passwd[5] -eq (Join-Path $rig.Root 'home')) {
            $rig.UserName = $dir.Name
            $rig.UserId = [int]$passwd[2]
            $rig.DedicatedUser = $true
        }
        $rig
    }
}

function Get-RigTempRoot {
    # Copying the ~550 MB build into a rig takes ~1.2 s on tmpfs and ~14 s on this machine's ext4
    # (all of it kernel time), so rigs live in /dev/shm unless it is noexec: node loads native
    # addons (SWC, sharp) from the rig's node_modules.
    $shm = Get-Content -LiteralPath '/proc/mounts' | Where-Object { ($_ -split ' ')[1] -eq '/dev/shm' } | Select-Object -Last 1
    if ($shm -and ($shm -split ' ')[2] -eq 'tmpfs' -and (($shm -split ' ')[3] -split ',') -notcontains 'noexec') { '/dev/shm' } else { '/tmp' }
}

function Initialize-RigBase {
    # The parent of every rig of this user: a private 755 directory under the world-writable temp dir.
    param([Parameter(Mandatory)] [string] $UserId)
    $base = (Get-RigTempRoot) + $(if ($UserId -eq '0') { '/aedrig' } else { "/aedrig-$UserId" })
    New-RigDirectory -Path $base
    $baseInfo = (Invoke-RigProcess -FilePath '/usr/bin/stat' -ArgumentList '-c', '%u %a', $base).StdOut.Trim()
    if ($baseInfo -ne "$UserId 755") { throw "$base must be owned by uid $UserId with mode 755 (found '$baseInfo')" }
    $base
}

function Assert-RigPrerequisite {
    param([bool] $IsRoot, [switch] $Browser)
    $missing = @()
    if (-not (Test-RigCommand '/usr/sbin/sshd')) { $missing += 'openssh-server' }
    if (-not (Test-RigCommand '/usr/sbin/nginx')) { $missing += 'nginx' }
    # Only for the browser tests (AedDeployBrowser.psm1): a few hundred MB that the other rigs do not need.
    if ($Browser -and -not (Test-RigCommand '/usr/bin/chromium')) { $missing += 'chromium' }
    if ($missing) {
        if (-not $IsRoot) { throw "Missing Debian packages. Install them with: sudo apt-get install -y $($missing -join ' ')" }
        $install = Invoke-RigProcess -FilePath '/usr/bin/apt-get' -ArgumentList (@('install', '-y') + $missing) -AllowFailure -TimeoutSec 900
        if ($install.ExitCode -ne 0) {
            $null = Invoke-RigProcess -FilePath '/usr/bin/apt-get' -ArgumentList 'update' -TimeoutSec 900
            $null = Invoke-RigProcess -FilePath '/usr/bin/apt-get' -ArgumentList (@('install', '-y') + $missing) -TimeoutSec 900
        }
    }
    foreach ($tool in '/usr/bin/git', '/usr/bin/node', '/usr/bin/npm', '/usr/bin/ssh-keygen') {
        if (-not (Test-RigCommand $tool)) { throw "Missing $tool (git, Node.js and openssh-client come from the machine)" }
    }
}

function Wait-RigCondition {
    # Returns the condition's first truthy result; an exception counts as "not yet". The condition
    # runs in a child of this scope, so these local names must not shadow the caller's variables.
    param([Parameter(Mandatory)] [scriptblock] $Condition, [Parameter(Mandatory)] [string] $What, [int] $TimeoutSec = 60, [int] $IntervalMs = 100)
    $waitDeadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    $waitError = $null
    while ($true) {
        try {
            $waitResult = & $Condition
            if ($waitResult) { return $waitResult }
        }
        catch { $waitError = $_.Exception.Message }
        if ([DateTime]::UtcNow -ge $waitDeadline) { throw "Timed out after $TimeoutSec s waiting for $What$(if ($waitError) { " (last error: $waitError)" })" }
        Start-Sleep -Milliseconds $IntervalMs
    }
}

function Wait-RigSshd {
    # Ready means the banner arrives; an sshd that exits (bad config, port taken) fails at once.
    param($Rig)
    $deadline = [DateTime]::UtcNow.AddSeconds(15)
    while ($true) {
        $self = (Get-RigProcessTable)[$Rig.Pids.Sshd]
        if (-not $self -or $self.State -eq 'Z') {
            throw "sshd exited: $(Get-Content -LiteralPath $Rig.SshdLogPath -Raw -ErrorAction Ignore)"
        }
        $client = [Net.Sockets.TcpClient]::new()
        try {
            $client.Connect($Rig.HostName, $Rig.SshPort)
            $stream = $client.GetStream()
            $stream.ReadTimeout = 2000
            $buffer = [byte[]]::new(64)
            $n = $stream.Read($buffer, 0, $buffer.Length)
            if ([Text.Encoding]::ASCII.GetString($buffer, 0, $n).StartsWith('SSH-2.0')) { return }
        }
        catch [Net.Sockets.SocketException], [IO.IOException] { }
        finally { $client.Dispose() }
        if ([DateTime]::UtcNow -ge $deadline) { throw "sshd did not answer on $($Rig.HostName):$($Rig.SshPort) within 15 s" }
        Start-Sleep -Milliseconds 50
    }
}

function Get-RigChildProcessId {
    param([int] $ParentId)
    (Get-RigProcessTable).Values | Where-Object { $_.PPid -eq $ParentId -and $_.State -ne 'Z' } | ForEach-Object Pid
}

function Update-RigFixtureFile {
    param([Parameter(Mandatory)] [string] $Root, [Parameter(Mandatory)] [hashtable] $Edit)
    if ($Edit.ContainsKey('AddDependency')) {
        $name = $Edit.AddDependency
        $manifestPath = Join-Path $Root 'package.json'
        $manifest = Get-Content -LiteralPath $manifestPath -Raw | ConvertFrom-Json -AsHashtable -DateKind String
        $manifest.dependencies[$name] = $Edit.Version
        Set-Content -LiteralPath $manifestPath -Value ($manifest | ConvertTo-Json -Depth 100)
        $lockPath = Join-Path $Root 'package-lock.json'
        $lock = Get-Content -LiteralPath $lockPath -Raw | ConvertFrom-Json -AsHashtable -DateKind String
        $lock.packages[''].dependencies[$name] = $Edit.Version
        $lock.packages["node_modules/$name"] = [ordered]@{ version = $Edit.Version }
        Set-Content -LiteralPath $lockPath -Value ($lock | ConvertTo-Json -Depth 100)
        return
    }
    $path = Join-Path $Root $Edit.Path
    if ($Edit.ContainsKey('Content')) { [IO.File]::WriteAllText($path, $Edit.Content); return }
    if ($Edit.ContainsKey('Append')) { [IO.File]::AppendAllText($path, $Edit.Append); return }
    $text = [IO.File]::ReadAllText($path)
    $count = ([regex]::Matches($text, [regex]::Escape($Edit.Find))).Count
    if ($count -ne 1) { throw "Fixture edit expected '$($Edit.Find)' once in $($Edit.Path), found it $count times" }
    [IO.File]::WriteAllText($path, $text.Replace($Edit.Find, $Edit.Replace))
}

function Invoke-RigGit {
    param([Parameter(Mandatory)] [string] $Repository, [Parameter(Mandatory)] [string[]] $ArgumentList)
    (Invoke-RigProcess -FilePath '/usr/bin/git' -ArgumentList (@('-C', $Repository) + $ArgumentList)).StdOut.Trim()
}

#endregion

#region public commands

function Invoke-AedRigShell {
    <#
    .SYNOPSIS
    Runs bash text locally as the rig's deploy user, with the PATH and PM2_HOME its SSH sessions get.
    Returns stdout lines; throws with stderr when the command exits non-zero.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] $Rig,
        [Parameter(Mandatory)] [string] $Command,
        [int] $TimeoutSec = 600
    )
    $result = Invoke-RigUserShell -Rig $Rig -Command $Command -TimeoutSec $TimeoutSec -AllowFailure
    if ($result.ExitCode -ne 0) { throw "Rig shell command exited with $($result.ExitCode): $($result.StdErr.Trim())" }
    $text = $result.StdOut.TrimEnd("`n")
    if ($text) { $text -split "`n" }
}

function Invoke-AedRigHttp {
    <#
    .SYNOPSIS
    One HTTP GET to a loopback address. Returns StatusCode, Body and Headers (response and content
    headers, names as sent); never throws on an HTTP error status.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [uri] $Uri,
        [hashtable] $Headers = @{},
        [int] $TimeoutSec = 15
    )
    if (-not ($Uri.IsLoopback)) { throw "The rig only talks to loopback addresses, not '$Uri'" }
    $request = [Net.Http.HttpRequestMessage]::new([Net.Http.HttpMethod]::Get, $Uri)
    foreach ($h in $Headers.GetEnumerator()) { $null = $request.Headers.TryAddWithoutValidation($h.Key, [string]$h.Value) }
    $cts = [Threading.CancellationTokenSource]::new([TimeSpan]::FromSeconds($TimeoutSec))
    try {
        $response = $script:HttpClient.SendAsync($request, $cts.Token).GetAwaiter().GetResult()
        $body = $response.Content.ReadAsStringAsync($cts.Token).GetAwaiter().GetResult()
        $all = [ordered]@{}
        foreach ($h in @($response.Headers) + @($response.Content.Headers)) { $all[$h.Key] = $h.Value -join ', ' }
        [pscustomobject]@{ StatusCode = [int]$response.StatusCode; Body = $body; Headers = $all }
    }
    finally {
        $cts.Dispose()
        $request.Dispose()
    }
}

function Wait-AedRigHttp {
    <#
    .SYNOPSIS
    Polls a loopback URL every 100 ms until it answers the expected status; returns that response.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [uri] $Uri,
        [int] $ExpectedStatus = 200,
        [int] $TimeoutSec = 30
    )
    Wait-RigCondition -What "HTTP $ExpectedStatus from $Uri" -TimeoutSec $TimeoutSec -Condition {
        $r = Invoke-AedRigHttp -Uri $Uri -TimeoutSec $TimeoutSec
        if ($r.StatusCode -ne $ExpectedStatus) { throw "answered $($r.StatusCode)" }
        $r
    }
}

function Get-AedRigPm2Process {
    <#
    .SYNOPSIS
    The rig app's PM2 processes from `pm2 jlist` (never the env, which holds secrets).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Rig)
    if ($Rig.Stopped) { throw 'The rig is stopped; pm2 would start a fresh daemon' }
    $json = (Invoke-RigUserShell -Rig $Rig -Command 'pm2 jlist --silent' -TimeoutSec 60).StdOut
    # A hashtable: pm2_env copies the process env, whose keys may differ only in case.
    foreach ($p in ($json | ConvertFrom-Json -AsHashtable -DateKind String)) {
        if ($p['name'] -cne $Rig.AppName) { continue }
        [pscustomobject]@{
            name         = $p['name']
            pm_id        = $p['pm_id']
            status       = $p['pm2_env']['status']
            pid          = $p['pid']
            restart_time = $p['pm2_env']['restart_time']
            pm_cwd       = $p['pm2_env']['pm_cwd']
        }
    }
}

function Get-AedRigProcessId {
    <#
    .SYNOPSIS
    Every live pid the rig started (checked against its recorded start time), their descendants,
    the daemons named in the rig's pid files, and every process of the rig's dedicated user.
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param([Parameter(Mandatory)] [AllowNull()] $Rig)
    if ($null -eq $Rig) { return }
    $table = Get-RigProcessTable
    $found = [Collections.Generic.HashSet[int]]::new()
    foreach ($entry in $Rig.PidStartTimes.GetEnumerator()) {
        $p = $table[[int]$entry.Key]
        if ($p -and $p.StartTime -eq $entry.Value) { $null = $found.Add($p.Pid) }
    }
    foreach ($pidFile in Get-RigDaemonPidFile -Rig $Rig) {
        $id = Get-RigPidFileProcess -Table $table @pidFile
        if ($id) { $null = $found.Add($id) }
    }
    do {
        $before = $found.Count
        foreach ($p in $table.Values) { if ($found.Contains($p.PPid)) { $null = $found.Add($p.Pid) } }
    } while ($found.Count -ne $before)
    if ($Rig.DedicatedUser) {
        foreach ($p in $table.Values) { if ($p.Uid -eq $Rig.UserId) { $null = $found.Add($p.Pid) } }
    }
    $null = $found.Remove($PID)
    $found | Where-Object { $table[$_].State -notin 'Z', 'X' } | Sort-Object
}

function Stop-AedRig {
    <#
    .SYNOPSIS
    Tears a rig down by pid: pm2 kill, then every process the rig started or its user owns, then the
    user and the rig's directory. Idempotent; safe on a half-started rig and on $null.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [AllowNull()] $Rig)
    if ($null -eq $Rig -or $Rig.Stopped) { return }
    $problems = [Collections.Generic.List[string]]::new()

    $pm2PidFile = Get-RigDaemonPidFile -Rig $Rig | Where-Object { $_.Path -like '*/pm2.pid' }
    # Only ask pm2 to kill a daemon that exists: `pm2 kill` with none running starts one first.
    if ($Rig.Environment -and $pm2PidFile -and (Get-RigPidFileProcess -Table (Get-RigProcessTable) @pm2PidFile)) {
        try {
            $kill = Invoke-RigUserShell -Rig $Rig -Command 'pm2 kill' -TimeoutSec 30 -AllowFailure
            if ($kill.ExitCode -ne 0) { $problems.Add("pm2 kill exited $($kill.ExitCode)") }
        }
        catch { $problems.Add("pm2 kill: $($_.Exception.Message)") }
    }

    foreach ($signal in 'TERM', 'KILL', 'KILL') {
        $ids = @(Get-AedRigProcessId -Rig $Rig)
        if (-not $ids) { break }
        $null = Invoke-RigProcess -FilePath '/bin/kill' -ArgumentList (@("-$signal", '--') + ($ids | ForEach-Object { "$_" })) -AllowFailure
        $deadline = [DateTime]::UtcNow.AddSeconds(5)
        while ([DateTime]::UtcNow -lt $deadline -and @(Get-AedRigProcessId -Rig $Rig)) { Start-Sleep -Milliseconds 50 }
    }
    $left = @(Get-AedRigProcessId -Rig $Rig)
    if ($left) { $problems.Add("processes still alive: $($left -join ', ')") }

    if ($Rig.DedicatedUser) {
        $del = Invoke-RigProcess -FilePath '/usr/sbin/userdel' -ArgumentList $Rig.UserName -AllowFailure
        if ($del.ExitCode -notin 0, 6) { $problems.Add("userdel exited $($del.ExitCode): $($del.StdErr.Trim())") }
        else { $Rig.DedicatedUser = $false }
    }

    if ($Rig.Root -and (Test-Path -LiteralPath $Rig.Root)) {
        $rm = Invoke-RigProcess -FilePath '/bin/rm' -ArgumentList '-rf', '--one-file-system', '--', $Rig.Root -AllowFailure
        if ($rm.ExitCode -ne 0) { $problems.Add("removing $($Rig.Root) failed: $($rm.StdErr.Trim())") }
    }
    if ($problems.Count) { throw "Stop-AedRig: $($problems -join '; ')" }
    $Rig.Stopped = $true
}

function Start-AedRig {
    <#
    .SYNOPSIS
    Starts a rig: dedicated user (when root), private sshd, bare git origin, fixture app checked out
    in the InPlace or Release layout, PM2 cluster (2 instances) and nginx with proxy_cache.
    .DESCRIPTION
    Cleans up after itself and rethrows, naming the step, when any step fails. Pair with
    Stop-AedRig in AfterAll.
    #>
    [CmdletBinding()]
    param(
        [ValidateSet('InPlace', 'Release')] [string] $Layout = 'InPlace',
        [switch] $NoPm2,
        [switch] $NoNginx,
        # Without the preload PM2 waits the full listen_timeout per instance, as on the seed's servers.
        [switch] $NoReadyPreload,
        # Installs Debian's chromium when it is missing, for AedDeployBrowser.psm1.
        [switch] $Browser,
        # Where sshd, the app and nginx listen: a fleet rig gives each host its own 127.0.0.0/8 address.
        [ValidateScript({ [Net.IPAddress]::IsLoopback([Net.IPAddress]::Parse($_)) -and $_ -match '^127(\.\d{1,3}){3}$' })]
        [string] $Address = '127.0.0.1',
        # A bare origin to clone instead of a new one: the hosts of a fleet rig deploy the same commits.
        [string] $OriginPath
    )
    if ($OriginPath -and -not (Test-Path -LiteralPath (Join-Path $OriginPath 'HEAD'))) { throw "-OriginPath '$OriginPath' is no bare git repository" }
    $myUid = (Invoke-RigProcess -FilePath '/usr/bin/id' -ArgumentList '-u').StdOut.Trim()
    $isRoot = $myUid -eq '0'
    $name = "aedrig$(New-RigSecret 3)"
    $rig = New-RigObject -Name $name -Layout $Layout
    $rig.HostName = $Address
    $step = $null
    $copy = $null
    $clock = [Diagnostics.Stopwatch]::StartNew()
    # Dot-sourced, so it updates $step in this function's scope; the timings go into the rig.
    $mark = {
        param($next)
        if ($step) { $rig.Timings[$step] = [Math]::Round($clock.Elapsed.TotalSeconds, 2) }
        $clock.Restart()
        $step = $next
        if ($next) { Write-Verbose "Start-AedRig: $next" }
    }
    try {
        . $mark 'check prerequisites'
        Assert-RigPrerequisite -IsRoot $isRoot -Browser:$Browser

        . $mark 'install pm2'
        $rig.Pm2Bin = Install-RigPm2

        . $mark 'build fixture'
        $build = Get-RigFixtureBuild

        . $mark 'create root'
        # A private 755 parent under the world-writable temp dir keeps every rig path safe for sshd
        # StrictModes and git ownership checks, and short enough for PM2's unix sockets.
        $base = Initialize-RigBase -UserId $myUid
        foreach ($orphan in Get-RigOrphan -Base $base) {
            Write-Verbose "Start-AedRig: removing orphaned rig $($orphan.Root)"
            try { Stop-AedRig -Rig $orphan } catch { Write-Warning $_.Exception.Message }
        }
        $rig.Root = Join-Path $base $name
        $null = Invoke-RigProcess -FilePath '/usr/bin/mkdir' -ArgumentList '-m', '755', $rig.Root
        Set-RigFile -Path (Join-Path $rig.Root 'owner') -Content "$PID $((Get-RigProcessTable)[$PID].StartTime)`n"

        . $mark 'create user'
        if ($isRoot) {
            $rig.Home = Join-Path $rig.Root 'home'
            $null = Invoke-RigProcess -FilePath '/usr/sbin/useradd' -ArgumentList '--no-create-home', '--home-dir', $rig.Home, '--shell', '/bin/bash', '--user-group', $name
            $rig.UserName = $name
            $rig.DedicatedUser = $true
            # useradd leaves the account locked ('!'), and with UsePAM no sshd refuses locked accounts even for keys.
            $null = Invoke-RigProcess -FilePath '/usr/sbin/usermod' -ArgumentList '-p', '*', $name
            $rig.Password = New-RigSecret 12
            $null = Invoke-RigProcess -FilePath '/usr/sbin/chpasswd' -InputText "${name}:$($rig.Password)`n"
            New-RigDirectory -Path $rig.Home -Owner $name
            foreach ($dotfile in '.bashrc', '.profile') { Set-RigFile -Path (Join-Path $rig.Home $dotfile) -Content '' -Owner $name }
        }
        else {
            $rig.UserName = (Invoke-RigProcess -FilePath '/usr/bin/id' -ArgumentList '-un').StdOut.Trim()
            $rig.Home = (Invoke-RigProcess -FilePath '/usr/bin/getent' -ArgumentList 'passwd', $rig.UserName).StdOut.Split(':')[5]
        }
        $rig.UserId = [int](Invoke-RigProcess -FilePath '/usr/bin/id' -ArgumentList '-u', $rig.UserName).StdOut.Trim()
        $owner = if ($isRoot) { $name } else { '' }
        # Without a dedicated user the rig keeps its app and PM2 state out of the real home.
        $dataRoot = if ($isRoot) { $rig.Home } else { Join-Path $rig.Root 'home' }
        if (-not $isRoot) { New-RigDirectory -Path $dataRoot }
        $rig.Pm2Home = Join-Path $dataRoot '.pm2'
        # The build copy (~550 MB, the slowest step) runs while keys, sshd and git are set up.
        $stage = Join-Path $rig.Root 'stage'
        $null = Invoke-RigProcess -FilePath '/usr/bin/mkdir' -ArgumentList '-m', '755', $stage
        $copyScript = 'set -e; cp -a "$1/node_modules" "$1/.next" "$2"; cp -a "$3" "$2/npm"; if [ -n "$4" ]; then chown -R "$4:$4" "$2"; fi'
        $copy = Start-RigProcess -FilePath '/bin/bash' -ArgumentList '-c', $copyScript, 'copy-build', $build, $stage, $script:NpmCache, "$owner"

        # A warm npm cache (copied in below) and prefer-offline let deploys run the fixture's
        # `npm ci` without the network; telemetry would only try to reach the internet.
        $rig.Environment = [ordered]@{
            PATH                      = "$(Split-Path $rig.Pm2Bin):$script:SystemPath"
            PM2_HOME                  = $rig.Pm2Home
            NEXT_TELEMETRY_DISABLED   = '1'
            npm_config_cache          = Join-Path $dataRoot '.npm'
            npm_config_prefer_offline = 'true'
        }

        . $mark 'generate keys'
        $sshdDir = Join-Path $rig.Root 'sshd'
        $keysDir = Join-Path $rig.Root 'keys'
        New-RigDirectory -Path $sshdDir -Mode '700'
        New-RigDirectory -Path $keysDir -Mode '700'
        $rig.KeyPath = Join-Path $keysDir 'id_ed25519'
        $rig.RsaPemKeyPath = Join-Path $keysDir 'id_rsa_pem'
        $rig.EncryptedKeyPath = Join-Path $keysDir 'id_ed25519_encrypted'
        $rig.KeyPassphrase = New-RigSecret 12
        $hostEd = Join-Path $sshdDir 'ssh_host_ed25519_key'
        $hostRsa = Join-Path $sshdDir 'ssh_host_rsa_key'
        $rig.OtherHostKeyPath = Join-Path $sshdDir 'other_host_ed25519_key'
        $rig.HostKeyPaths = @($hostEd, $hostRsa)
        # One bash runs all six ssh-keygen in parallel: RSA generation dominates otherwise.
        $keygen = @'
set -e
k() { ssh-keygen -q "$@" & pids="$pids $!"; }
k -t ed25519 -N '' -C aedrig-host -f "$1"
k -t rsa -b 2048 -N '' -C aedrig-host -f "$2"
k -t ed25519 -N '' -C aedrig-other-host -f "$3"
k -t ed25519 -N '' -C aedrig-client -f "$4"
k -m PEM -t rsa -b 2048 -N '' -C aedrig-client-pem -f "$5"
k -t ed25519 -N "$7" -C aedrig-client-encrypted -f "$6"
for p in $pids; do wait "$p"; done
'@
        $null = Invoke-RigProcess -FilePath '/bin/bash' -ArgumentList '-c', $keygen, 'keygen', $hostEd, $hostRsa, $rig.OtherHostKeyPath,
            $rig.KeyPath, $rig.RsaPemKeyPath, $rig.EncryptedKeyPath, $rig.KeyPassphrase

        . $mark 'configure sshd'
        $rig.SshPort = Get-FreeTcpPort -Address $Address
        $hostEntry = "[$Address]:$($rig.SshPort)"
        $hostPublic = (Get-Content -LiteralPath "$hostEd.pub" -Raw).Trim().Split(' ')
        $otherPublic = (Get-Content -LiteralPath "$($rig.OtherHostKeyPath).pub" -Raw).Trim().Split(' ')
        $rig.KnownHostsPath = Join-Path $keysDir 'known_hosts'
        $rig.HashedKnownHostsPath = Join-Path $keysDir 'known_hosts_hashed'
        $rig.OtherKnownHostsPath = Join-Path $keysDir 'known_hosts_other'
        Set-RigFile -Path $rig.KnownHostsPath -Content "$hostEntry $($hostPublic[0]) $($hostPublic[1])`n"
        Set-RigFile -Path $rig.HashedKnownHostsPath -Content "$hostEntry $($hostPublic[0]) $($hostPublic[1])`n"
        $null = Invoke-RigProcess -FilePath '/usr/bin/ssh-keygen' -ArgumentList '-H', '-f', $rig.HashedKnownHostsPath
        Remove-Item -LiteralPath "$($rig.HashedKnownHostsPath).old" -Force -ErrorAction Ignore
        Set-RigFile -Path $rig.OtherKnownHostsPath -Content "$hostEntry $($otherPublic[0]) $($otherPublic[1])`n"
        $rig.HostKeyFingerprint = (Invoke-RigProcess -FilePath '/usr/bin/ssh-keygen' -ArgumentList '-l', '-E', 'sha256', '-f', "$hostEd.pub").StdOut.Split(' ')[1]

        $authorizedKeys = (@($rig.KeyPath, $rig.RsaPemKeyPath, $rig.EncryptedKeyPath) | ForEach-Object { (Get-Content -LiteralPath "$_.pub" -Raw).Trim() }) -join "`n"
        if ($isRoot) {
            # Inside the home, StrictModes stops its directory walk there, short of the world-writable temp dir.
            $sshUserDir = Join-Path $rig.Home '.ssh'
            New-RigDirectory -Path $sshUserDir -Mode '700' -Owner $name
            $authorizedKeysPath = Join-Path $sshUserDir 'authorized_keys'
            Set-RigFile -Path $authorizedKeysPath -Content "$authorizedKeys`n" -Mode '600' -Owner $name
        }
        else {
            $authorizedKeysPath = Join-Path $sshdDir 'authorized_keys'
            Set-RigFile -Path $authorizedKeysPath -Content "$authorizedKeys`n" -Mode '600'
        }
        $rig.SshdConfigPath = Join-Path $sshdDir 'sshd_config'
        $rig.SshdLogPath = Join-Path $sshdDir 'sshd.log'
        $rig.SshdPidPath = Join-Path $sshdDir 'sshd.pid'
        $setEnv = ($rig.Environment.GetEnumerator() | ForEach-Object { "$($_.Key)=$($_.Value)" }) -join ' '
        Set-RigFile -Path $rig.SshdConfigPath -Mode '600' -Content @"
ListenAddress $Address
Port $($rig.SshPort)
HostKey $hostEd
HostKey $hostRsa
PidFile $($rig.SshdPidPath)
AuthorizedKeysFile $authorizedKeysPath
AllowUsers $($rig.UserName)
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin no
# Without a dedicated user the keys sit under the world-writable temp dir, which StrictModes rejects.
StrictModes $(if ($isRoot) { 'yes' } else { 'no' })
UseDNS no
PrintMotd no
PrintLastLog no
LogLevel VERBOSE
# Tests open many connections at once (probes, parallel sessions); the defaults would drop some.
MaxStartups 100:30:200
MaxSessions 50
SetEnv $setEnv
Subsystem sftp /usr/lib/openssh/sftp-server

"@

        . $mark 'start sshd'
        if ($isRoot) { New-RigDirectory -Path '/run/sshd' }
        $psi = [Diagnostics.ProcessStartInfo]::new('/bin/bash')
        foreach ($a in '-c', 'exec /usr/sbin/sshd -D -f "$1" -E "$2" </dev/null >/dev/null 2>&1', 'sshd', $rig.SshdConfigPath, $rig.SshdLogPath) { $psi.ArgumentList.Add($a) }
        $psi.UseShellExecute = $false
        $sshd = [Diagnostics.Process]::Start($psi)
        Add-RigPid -Rig $rig -Name 'Sshd' -Id $sshd.Id
        $sshd.Dispose()
        Wait-RigSshd -Rig $rig

        if ($OriginPath) {
            . $mark 'use origin'
            # Another rig's origin, which must outlive this rig; this rig has no work tree: publish through the owner's.
            $rig.OriginPath = $OriginPath
            $rig.OriginUrl = "file://$OriginPath"
            $rig.BaseCommit = Invoke-RigGit $OriginPath 'rev-list', '--max-parents=0', 'main'
            $rig.Commit = Invoke-RigGit $OriginPath 'rev-parse', 'main'
            $versionText = Invoke-RigGit $OriginPath 'show', "main:$script:VersionFile"
        }
        else {
            . $mark 'create origin'
            $rig.OriginPath = Join-Path $rig.Root 'origin.git'
            $rig.OriginUrl = "file://$($rig.OriginPath)"
            $rig.WorkTreePath = Join-Path $rig.Root 'worktree'
            # 0644 sharing keeps objects pushed later readable by the deploy user whatever the umask.
            $null = Invoke-RigProcess -FilePath '/usr/bin/git' -ArgumentList 'init', '-q', '--bare', '--shared=0644', '-b', 'main', $rig.OriginPath
            $null = Invoke-RigProcess -FilePath '/usr/bin/git' -ArgumentList 'init', '-q', '-b', 'main', $rig.WorkTreePath
            Copy-RigFixtureSource -Destination $rig.WorkTreePath
            $null = Invoke-RigGit $rig.WorkTreePath 'config', 'user.name', 'AedDeploy Rig'
            $null = Invoke-RigGit $rig.WorkTreePath 'config', 'user.email', 'rig@aeddeploy.invalid'
            $null = Invoke-RigGit $rig.WorkTreePath 'remote', 'add', 'origin', $rig.OriginPath
            $null = Invoke-RigGit $rig.WorkTreePath 'add', '-A'
            $null = Invoke-RigGit $rig.WorkTreePath 'commit', '-q', '-m', 'Fixture version 1'
            $null = Invoke-RigGit $rig.WorkTreePath 'push', '-q', '-u', 'origin', 'main'
            $rig.BaseCommit = Invoke-RigGit $rig.WorkTreePath 'rev-parse', 'HEAD'
            $rig.Commit = $rig.BaseCommit
            $versionText = [IO.File]::ReadAllText((Join-Path $rig.WorkTreePath $script:VersionFile))
        }
        $rig.Version = [regex]::Match($versionText, $script:VersionPattern).Groups[1].Value
        if ($isRoot) {
            # The origin belongs to root; git refuses other users' repositories unless listed as safe.
            Set-RigFile -Path (Join-Path $rig.Home '.gitconfig') -Owner $name -Content @"
[user]
	name = AedDeploy Rig Deploy User
	email = deploy@aeddeploy.invalid
[safe]
	directory = $($rig.OriginPath)

"@
        }

        . $mark 'check out app'
        $rig.AppRoot = Join-Path $dataRoot 'app'
        if ($Layout -eq 'InPlace') {
            $rig.ReleasePath = $rig.AppRoot
            $rig.LivePath = $rig.AppRoot
            $envPath = Join-Path $rig.AppRoot '.env'
        }
        else {
            $releaseId = "$([DateTime]::UtcNow.ToString('yyyyMMdd-HHmmss'))-$($rig.Commit.Substring(0, 7))"
            $rig.ReleasePath = Join-Path $rig.AppRoot "releases/$releaseId"
            $rig.LivePath = Join-Path $rig.AppRoot 'current'
            $envPath = Join-Path $rig.AppRoot 'shared/.env'
        }
        $appRootQ = ConvertTo-ShellLiteral $rig.AppRoot
        $releaseQ = ConvertTo-ShellLiteral $rig.ReleasePath
        $layoutCommand = if ($Layout -eq 'InPlace') {
            "git clone -q $(ConvertTo-ShellLiteral $rig.OriginUrl) $appRootQ"
        }
        else {
            "set -e; mkdir -p $appRootQ/releases $appRootQ/shared $appRootQ/.aeddeploy" +
            "; git clone -q $(ConvertTo-ShellLiteral $rig.OriginUrl) $releaseQ" +
            "; ln -s $(ConvertTo-ShellLiteral $envPath) $releaseQ/.env" +
            "; ln -s $releaseQ $(ConvertTo-ShellLiteral $rig.LivePath)"
        }
        $null = Invoke-RigUserShell -Rig $rig -Command $layoutCommand -TimeoutSec 60

        . $mark 'copy build'
        # A plain copy then chown: protected_hardlinks forbids the deploy user to hardlink root's files,
        # and a deploy must be able to rewrite every file of its release.
        $null = Wait-RigProcess -Run $copy -TimeoutSec 300
        $copy = $null
        $null = Invoke-RigProcess -FilePath '/usr/bin/mv' -ArgumentList (Join-Path $stage 'node_modules'), (Join-Path $stage '.next'), $rig.ReleasePath
        $null = Invoke-RigProcess -FilePath '/usr/bin/mv' -ArgumentList '-T', (Join-Path $stage 'npm'), $rig.Environment.npm_config_cache
        $null = Invoke-RigProcess -FilePath '/usr/bin/rmdir' -ArgumentList $stage

        . $mark 'write env'
        $rig.AppPort = Get-FreeTcpPort -Address $Address
        $supportDir = Join-Path $rig.Root 'support'
        New-RigDirectory -Path $supportDir
        $rig.ReadyPreloadPath = Join-Path $supportDir 'ready-preload.cjs'
        Copy-Item -LiteralPath $script:PreloadSource -Destination $rig.ReadyPreloadPath
        $envLines = @("PORT=$($rig.AppPort)")
        if ($Layout -eq 'Release') { $envLines += "APP_CWD=$($rig.LivePath)" }
        if (-not $NoReadyPreload) { $envLines += "READY_PRELOAD=$($rig.ReadyPreloadPath)" }
        # Only off the default, so the default rig's app sees the same environment keys as before.
        if ($Address -ne '127.0.0.1') { $envLines += "APP_HOST=$Address" }
        Set-RigFile -Path $envPath -Content (($envLines -join "`n") + "`n") -Mode '600' -Owner $owner

        if (-not $NoPm2) {
            . $mark 'start pm2'
            $null = Invoke-RigUserShell -Rig $rig -Command "cd $(ConvertTo-ShellLiteral $rig.LivePath) && pm2 start ecosystem.config.cjs" -TimeoutSec 120
            $daemon = Get-RigPidFileProcess -Table (Get-RigProcessTable) -Path (Join-Path $rig.Pm2Home 'pm2.pid') -RigPath "($($rig.Pm2Home))"
            if ($daemon) { Add-RigPid -Rig $rig -Name 'Pm2Daemon' -Id $daemon }
            $null = Wait-RigCondition -What "2 PM2 instances online" -TimeoutSec 60 -IntervalMs 200 -Condition {
                $online = @(Get-AedRigPm2Process -Rig $rig | Where-Object status -EQ 'online')
                $online.Count -eq 2
            }
            $null = Wait-AedRigHttp -Uri "http://${Address}:$($rig.AppPort)/api/health" -TimeoutSec 60
            Add-RigPid -Rig $rig -Name 'Pm2Workers' -Id (Get-AedRigPm2Process -Rig $rig).pid -Many
        }

        if (-not $NoNginx) {
            . $mark 'start nginx'
            $rig.NginxPort = Get-FreeTcpPort -Address $Address
            $rig.NginxPrefix = Join-Path $rig.Root 'nginx'
            $rig.NginxConfPath = Join-Path $rig.NginxPrefix 'nginx.conf'
            $rig.NginxCachePath = Join-Path $rig.NginxPrefix 'cache'
            # Where Initialize-DeployTarget -StaticPool writes the snippet this nginx includes.
            $rig.StaticPoolConfPath = "$($rig.AppRoot)/.aeddeploy/nginx-static.conf"
            $p = $rig.NginxPrefix
            foreach ($dir in $p, "$p/logs", "$p/temp", $rig.NginxCachePath) { New-RigDirectory -Path $dir -Owner $owner }
            $errorLog = "$p/logs/error.log"
            # No `user` directive: nginx runs as the deploy user, who must be able to test and reload it.
            Set-RigFile -Path $rig.NginxConfPath -Owner $owner -Content @"
$(Get-RigNginxHead -Prefix $p)
    proxy_cache_path $($rig.NginxCachePath) levels=1:2 keys_zone=aed:10m;

    upstream fixture_app {
        server ${Address}:$($rig.AppPort);
        keepalive 16;
    }

    server {
        listen ${Address}:$($rig.NginxPort);

        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host `$host;

        # The static pool's locations, once Initialize-DeployTarget -StaticPool wrote them (a glob that matches
        # nothing is no error to nginx, so every rig without a pool runs this same configuration).
        include $($rig.AppRoot)/.aeddeploy/nginx-static*.conf;

        location /api/ {
            proxy_pass http://fixture_app;
        }

        # Pages are cached whatever Next says, as on the seed's servers: a deploy must purge.
        location / {
            proxy_pass http://fixture_app;
            proxy_cache aed;
            proxy_cache_valid 200 10m;
            proxy_ignore_headers Cache-Control Expires;
            add_header X-Cache-Status `$upstream_cache_status always;
        }
    }
}

"@
            $nginxArgs = "-p $(ConvertTo-ShellLiteral "$p/") -c $(ConvertTo-ShellLiteral $rig.NginxConfPath) -e $(ConvertTo-ShellLiteral $errorLog)"
            $rig.NginxTestCommand = "/usr/sbin/nginx -t -q $nginxArgs"
            $rig.NginxReloadCommand = "/usr/sbin/nginx -s reload $nginxArgs"
            $null = Invoke-RigUserShell -Rig $rig -Command "/usr/sbin/nginx $nginxArgs" -TimeoutSec 30
            $master = Wait-RigCondition -What 'the nginx pid file' -TimeoutSec 10 -Condition {
                Get-RigPidFileProcess -Table (Get-RigProcessTable) -Path "$p/nginx.pid" -RigPath $rig.NginxConfPath
            }
            Add-RigPid -Rig $rig -Name 'NginxMaster' -Id $master
            Add-RigPid -Rig $rig -Name 'NginxWorkers' -Id @(Get-RigChildProcessId -ParentId $master) -Many
            if (-not $NoPm2) { $null = Wait-AedRigHttp -Uri "http://${Address}:$($rig.NginxPort)/" -TimeoutSec 30 }
        }
        . $mark $null
    }
    catch {
        $failure = $_
        if ($copy) {
            if (-not $copy.Process.HasExited) { $copy.Process.Kill($true) }
            $null = Wait-RigProcess -Run $copy -TimeoutSec 30 -AllowFailure
        }
        try { Stop-AedRig -Rig $rig }
        catch { Write-Warning "Start-AedRig could not clean up fully: $($_.Exception.Message)" }
        throw [InvalidOperationException]::new("Start-AedRig failed at step '$step': $($failure.Exception.Message)", $failure.Exception)
    }
    $rig
}

function New-RigFleetRoot {
    # Reserves the fleet's name, and with it its addresses 127.A.B.0/24 (A and B are the name's first two bytes,
    # never 0.0, which the single rigs use): under a lock, no other directory of the base may begin with
    # those two bytes, and mkdir is atomic. The directory is shaped like a rig's, so Get-RigOrphan and
    # Stop-AedRig clean up the load balancer a killed test left behind.
    param([Parameter(Mandatory)] [string] $Base)
    # FileShare.None is a non-blocking flock on Linux: another fleet starting at this moment makes it throw, so retry.
    $lock = Wait-RigCondition -What "the lock $Base/fleet.lock" -TimeoutSec 30 -IntervalMs 50 -Condition {
        [IO.File]::Open((Join-Path $Base 'fleet.lock'), [IO.FileMode]::OpenOrCreate, [IO.FileAccess]::ReadWrite, [IO.FileShare]::None)
    }
    try {
        for ($attempt = 0; $attempt -lt 100; $attempt++) {
            $name = "aedrig$(New-RigSecret 3)"
            $prefix = $name.Substring(0, 10)
            if ($prefix -eq 'aedrig0000') { continue }
            if (Get-ChildItem -LiteralPath $Base -Directory -Filter "$prefix*") { continue }
            $root = Join-Path $Base $name
            if ((Invoke-RigProcess -FilePath '/usr/bin/mkdir' -ArgumentList '-m', '755', $root -AllowFailure).ExitCode -ne 0) { continue }
            Set-RigFile -Path (Join-Path $root 'owner') -Content "$PID $((Get-RigProcessTable)[$PID].StartTime)`n"
            $network = "127.$([Convert]::ToInt32($name.Substring(6, 2), 16)).$([Convert]::ToInt32($name.Substring(8, 2), 16))"
            Set-RigFile -Path (Join-Path $root 'fleet') -Content "$network.0/24`n"
            return [pscustomobject]@{ Name = $name; Root = $root; Network = $network }
        }
        throw "No free fleet address block under $Base after 100 tries"
    }
    finally { $lock.Dispose() }
}

function Start-AedFleetRig {
    <#
    .SYNOPSIS
    Starts a fleet rig: -Count hosts, each a full rig (its own sshd, user, PM2, app and nginx) on its own
    address 127.A.B.2 ... 127.A.B.(Count+1), all cloning one origin, and a load-balancer nginx on 127.A.B.1
    with an upstream over the hosts' nginx.
    .DESCRIPTION
    A and B come from the fleet's random name, reserved so that two fleet rigs never share an address.
    Host 1 owns the origin and the work tree Publish-AedFixtureVersion pushes from (pass it the fleet).
    The load balancer binds its address for its upstream connections, so each host's access log shows it,
    and adds X-Upstream (the host nginx that answered) to every response. Cleans up after itself and
    rethrows, naming the step, when any step fails. Pair with Stop-AedFleetRig in AfterAll.
    #>
    [CmdletBinding()]
    param(
        [ValidateRange(1, 253)] [int] $Count = 2,
        [ValidateSet('InPlace', 'Release')] [string] $Layout = 'Release'
    )
    $myUid = (Invoke-RigProcess -FilePath '/usr/bin/id' -ArgumentList '-u').StdOut.Trim()
    $isRoot = $myUid -eq '0'
    $reserved = New-RigFleetRoot -Base (Initialize-RigBase -UserId $myUid)
    $balancer = New-RigObject -Name $reserved.Name -Layout $Layout
    $balancer.Root = $reserved.Root
    $balancer.HostName = "$($reserved.Network).1"
    $fleet = [pscustomobject]@{
        Name            = $reserved.Name
        Network         = $reserved.Network
        Layout          = $Layout
        Hosts           = [Collections.Generic.List[object]]::new()
        LoadBalancer    = $balancer
        LoadBalancerUrl = $null
        OriginPath      = $null
        WorkTreePath    = $null
        BaseCommit      = $null
        Commit          = $null
        Version         = $null
        Stopped         = $false
    }
    $step = $null
    try {
        for ($i = 1; $i -le $Count; $i++) {
            $step = "start host $i"
            Write-Verbose "Start-AedFleetRig: $step"
            $hostArgs = @{ Layout = $Layout; Address = "$($fleet.Network).$($i + 1)" }
            if ($fleet.OriginPath) { $hostArgs.OriginPath = $fleet.OriginPath }
            $fleet.Hosts.Add((Start-AedRig @hostArgs))
            if ($i -eq 1) {
                foreach ($property in 'OriginPath', 'WorkTreePath', 'BaseCommit', 'Commit', 'Version') { $fleet.$property = $fleet.Hosts[0].$property }
            }
        }

        $step = 'start the load balancer'
        Write-Verbose "Start-AedFleetRig: $step"
        $address = $balancer.HostName
        $balancer.NginxPort = Get-FreeTcpPort -Address $address
        $balancer.NginxPrefix = Join-Path $balancer.Root 'nginx'
        $balancer.NginxConfPath = Join-Path $balancer.NginxPrefix 'nginx.conf'
        $p = $balancer.NginxPrefix
        foreach ($dir in $p, "$p/logs") { New-RigDirectory -Path $dir }
        # As root the master needs a user for its workers (Debian has no group 'nobody'), who must own the temp dir.
        if ($isRoot) { $null = Invoke-RigProcess -FilePath '/usr/bin/install' -ArgumentList '-d', '-m', '700', '-o', 'nobody', '-g', 'nogroup', "$p/temp" }
        else { New-RigDirectory -Path "$p/temp" -Mode '700' }
        $errorLog = "$p/logs/error.log"
        $servers = ($fleet.Hosts | ForEach-Object { "        server $($_.HostName):$($_.NginxPort);" }) -join "`n"
        Set-RigFile -Path $balancer.NginxConfPath -Content @"
$(if ($isRoot) { 'user nobody nogroup;' })
$(Get-RigNginxHead -Prefix $p)

    # proxy_next_upstream stays at nginx's default (error timeout), as on a real load balancer.
    upstream fleet_hosts {
$servers
        keepalive 16;
    }

    server {
        listen ${address}:$($balancer.NginxPort);

        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host `$host;
        proxy_bind $address;
        add_header X-Upstream `$upstream_addr always;

        location / {
            proxy_pass http://fleet_hosts;
        }
    }
}

"@
        $null = Invoke-RigProcess -FilePath '/usr/sbin/nginx' -ArgumentList '-p', "$p/", '-c', $balancer.NginxConfPath, '-e', $errorLog -TimeoutSec 30
        $master = Wait-RigCondition -What 'the load balancer pid file' -TimeoutSec 10 -Condition {
            Get-RigPidFileProcess -Table (Get-RigProcessTable) -Path "$p/nginx.pid" -RigPath $balancer.NginxConfPath
        }
        Add-RigPid -Rig $balancer -Name 'NginxMaster' -Id $master
        Add-RigPid -Rig $balancer -Name 'NginxWorkers' -Id @(Get-RigChildProcessId -ParentId $master) -Many
        $fleet.LoadBalancerUrl = "http://${address}:$($balancer.NginxPort)"
        $null = Wait-AedRigHttp -Uri "$($fleet.LoadBalancerUrl)/api/health" -TimeoutSec 30
    }
    catch {
        $failure = $_
        try { Stop-AedFleetRig -Fleet $fleet }
        catch { Write-Warning "Start-AedFleetRig could not clean up fully: $($_.Exception.Message)" }
        throw [InvalidOperationException]::new("Start-AedFleetRig failed at step '$step': $($failure.Exception.Message)", $failure.Exception)
    }
    $fleet
}

function Stop-AedFleetRig {
    <#
    .SYNOPSIS
    Tears a fleet rig down by pid: the load balancer first, then each host in reverse (host 1, which holds the
    origin, last). Every problem is collected and thrown once. Idempotent; safe on a half-started fleet and on $null.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [AllowNull()] $Fleet)
    if ($null -eq $Fleet -or $Fleet.Stopped) { return }
    $problems = [Collections.Generic.List[string]]::new()
    try { Stop-AedRig -Rig $Fleet.LoadBalancer }
    catch { $problems.Add("load balancer: $($_.Exception.Message)") }
    for ($i = $Fleet.Hosts.Count - 1; $i -ge 0; $i--) {
        try { Stop-AedRig -Rig $Fleet.Hosts[$i] }
        catch { $problems.Add("host $($i + 1) ($($Fleet.Hosts[$i].HostName)): $($_.Exception.Message)") }
    }
    if ($problems.Count) { throw "Stop-AedFleetRig: $($problems -join '; ')" }
    $Fleet.Stopped = $true
}

function Publish-AedFixtureVersion {
    <#
    .SYNOPSIS
    Commits the pristine fixture with a new version (and optionally one named breakage) in the
    rig's work tree, pushes it to origin and returns the commit sha. Breakages never accumulate.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] $Rig,
        [Parameter(Mandatory)] [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$')] [string] $Version,
        [ValidatePattern('^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$')] [string] $Branch = 'main',
        [ValidateSet('None', 'TypeScriptError', 'BadDependency', 'BrokenEcosystem', 'CrashAtBoot', 'Answer500', 'SlowHealth', 'RemoveEnvKey', 'NoisyEcosystem', 'NoisyNextConfig', 'HealthThrows')]
        [string] $Change = 'None'
    )
    $wt = $Rig.WorkTreePath
    $exists = (Invoke-RigProcess -FilePath '/usr/bin/git' -ArgumentList '-C', $wt, 'rev-parse', '--verify', '-q', "refs/heads/$Branch" -AllowFailure).ExitCode -eq 0
    $null = Invoke-RigGit $wt $(if ($exists) { 'switch', '-q', $Branch } else { 'switch', '-q', '-c', $Branch })
    $null = Invoke-RigGit $wt 'read-tree', '-u', '--reset', $Rig.BaseCommit
    foreach ($file in $script:VersionFiles) {
        $versionPath = Join-Path $wt $file
        [IO.File]::WriteAllText($versionPath, [regex]::Replace([IO.File]::ReadAllText($versionPath), $script:VersionPattern, "APP_VERSION = '$Version'"))
    }
    foreach ($edit in $script:FixtureChanges[$Change]) { Update-RigFixtureFile -Root $wt -Edit $edit }
    $null = Invoke-RigGit $wt 'add', '-A'
    $null = Invoke-RigGit $wt 'commit', '-q', '--allow-empty', '-m', "Fixture version $Version ($Change)"
    $null = Invoke-RigGit $wt 'push', '-q', 'origin', $Branch
    Invoke-RigGit $wt 'rev-parse', 'HEAD'
}

#endregion

Export-ModuleMember -Function Start-AedRig, Stop-AedRig, Start-AedFleetRig, Stop-AedFleetRig, Publish-AedFixtureVersion, Invoke-AedRigShell,
    Get-AedRigPm2Process, Get-AedRigProcessId, Wait-AedRigHttp, Invoke-AedRigHttp
