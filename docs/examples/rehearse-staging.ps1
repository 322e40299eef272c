#Requires -Version 7.4

<#
.SYNOPSIS
    Runs the AedDeploy failure rehearsals against a staging server: every way a deploy can go wrong, each
    one proven to end with the old version still serving.
.DESCRIPTION
    The rehearsal suite is tests/Pester/Rehearsal.Tests.ps1 in the AedDeploy repository (tag Rehearsal).
    Without a configuration it rehearses on a loopback rig it starts itself; with
    $env:AEDDEPLOY_REHEARSAL_CONFIG naming a configuration file it rehearses on the server that file
    describes, in that file's layout only. This script sets the variable (and $env:AEDDEPLOY_MODULE, the
    module under test), runs the suite with Pester, writes NUnit results, and exits non-zero when a
    rehearsal failed (plain Invoke-Pester would exit 0).

    What the rehearsals do to the server, for real: deploy refs that are broken on purpose (a TypeScript
    error, a dependency that cannot be installed, a broken ecosystem file, a crash at boot, a 500 answer, a
    slow health route, a dropped env key), stop deploys with Ctrl+C and by killing their SSH connection
    during the build and the reload, start two deploys at once, and break the nginx configuration for one
    deploy (NginxConfPath, put back afterwards). Between them, good deploys go live. A prober on this
    machine sends requests to ProbeTargets all the while, and every failed request is counted. So: a
    staging server only, never one that serves users, at a time when nobody else deploys there.

    The configuration is a PowerShell data file (its paths are relative to it). The header of
    tests/Pester/Rehearsal.Tests.ps1 shows every key; the ones that matter most:

        @{
            # The connection: as New-DeploySession takes it.
            HostName = 'staging.example.com'; UserName = 'deploy'
            KeyFilePath = '~/.ssh/aeddeploy_staging_ed25519'; KnownHostsPath = '~/.ssh/known_hosts'
            # The app, as the deploy cmdlets take it; only this layout is rehearsed.
            AppPath = '/srv/apps/shop'; AppName = 'shop'; Layout = 'Release'
            HealthUrl = 'http://127.0.0.1:3000/api/health'; CachePath = '/var/cache/nginx/shop-staging'
            # Branches of the app's repository that carry each breakage; a scenario whose ref is missing is skipped.
            Refs = @{ Good = 'main'; TypeScriptError = 'rehearsal/type-error'; CrashAtBoot = 'rehearsal/crash-at-boot'
                      Answer500 = 'rehearsal/answer-500' }
            # What the prober requests from this machine while each deploy runs.
            ProbeTargets = @{ 'nginx:/' = 'https://staging.example.com/' }
        }

    Two things the suite expects of the server besides the deploy's own: pm2 on the PATH of
    non-interactive SSH sessions, or Pm2Path in the configuration (it reads the process list itself with
    'pm2 jlist'), and node.
.PARAMETER ConfigurationPath
    The rehearsal configuration described above.
.PARAMETER ModulePath
    The AedDeploy manifest under test. By default the newest layout built in this repository (out/),
    else the newest AedDeploy installed (Install-PSResource AedDeploy).
.PARAMETER OutputPath
    Where the NUnit XML results are written, for a CI system to show.
.EXAMPLE
    ./docs/examples/rehearse-staging.ps1 -ConfigurationPath ~/aeddeploy/rehearsal.staging.psd1

    Rehearses with the module built in this clone (./build.ps1 -Task Build).
.EXAMPLE
    dotnet pwsh -NoProfile -File ./docs/examples/rehearse-staging.ps1 -ConfigurationPath ./rehearsal.psd1 -ModulePath ~/.local/share/powershell/Modules/AedDeploy/0.1.0/AedDeploy.psd1 -OutputPath ./rehearsal-results.xml

    Rehearses the release installed from the PowerShell Gallery, and keeps the results for CI.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)]
    [string] $ConfigurationPath,

    [string] $ModulePath,

    [string] $OutputPath = (Join-Path $PWD 'rehearsal-results.xml')
)

$ErrorActionPreference = 'Stop'
$repositoryRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
$suite = Join-Path $repositoryRoot 'tests/Pester/Rehearsal.Tests.ps1'
if (-not (Test-Path $suite)) { throw "The rehearsal suite is not at ${suite}: run this script from a clone of the AedDeploy repository." }

$configuration = Import-PowerShellDataFile -LiteralPath $ConfigurationPath
foreach ($required in 'HostName', 'AppPath', 'AppName', 'ProbeTargets', 'Refs') {
    if (-not $configuration[$required]) { throw "$ConfigurationPath sets no $required; see the header of $suite." }
}
$env:AEDDEPLOY_REHEARSAL_CONFIG = (Resolve-Path -LiteralPath $ConfigurationPath).Path

# Every Pester file of the repository imports the module that $env:AEDDEPLOY_MODULE names.
if (-not $ModulePath) {
    $ModulePath = Get-ChildItem (Join-Path $repositoryRoot 'out/AedDeploy/*/AedDeploy.psd1') -ErrorAction SilentlyContinue |
        Sort-Object { [version]$_.Directory.Name } | Select-Object -Last 1 -ExpandProperty FullName
}
if (-not $ModulePath) {
    $ModulePath = Get-Module AedDeploy -ListAvailable | Sort-Object Version | Select-Object -Last 1 -ExpandProperty Path
}
if (-not $ModulePath) { throw 'AedDeploy was not found: build it (./build.ps1 -Task Build), install it (Install-PSResource AedDeploy), or give -ModulePath.' }
$env:AEDDEPLOY_MODULE = (Resolve-Path $ModulePath).Path

# The repository's build restores Pester 6.2.0 into the NuGet cache; an installed Pester 5 or later does as well.
$pester = Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages/pester/6.2.0/tools/Pester.psd1'
if (Test-Path $pester) { Import-Module $pester } else { Import-Module Pester -MinimumVersion 5.0 }

$run = New-PesterConfiguration
$run.Run.Path = $suite
$run.Filter.Tag = 'Rehearsal'
$run.Output.Verbosity = 'Detailed'
$run.TestResult.Enabled = $true
$run.TestResult.OutputFormat = 'NUnitXml'
$run.TestResult.OutputPath = $OutputPath
# Exit with the number of failed tests, so that a shell or a CI step fails with them.
$run.Run.Exit = $true

Write-Host "Rehearsing $($configuration.AppName) ($($configuration.Layout ?? 'Release') layout) on $($configuration.HostName) with AedDeploy from $env:AEDDEPLOY_MODULE."
Invoke-Pester -Configuration $run
