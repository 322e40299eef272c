<#
.SYNOPSIS
    Runs the Pester suites for build.ps1 in a fresh process and writes the counts as JSON.
#>
param(
    # JSON: Pester (module path), Paths, Tag, ExcludeTag, Result (where to write the counts).
    [Parameter(Mandatory)] [string] $Settings
)
$ErrorActionPreference = 'Stop'
$s = $Settings | ConvertFrom-Json
Import-Module $s.Pester -Force

$configuration = New-PesterConfiguration
$configuration.Run.Path = @($s.Paths)
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = 'Detailed'
if ($s.Tag) { $configuration.Filter.Tag = @($s.Tag) }
if ($s.ExcludeTag) { $configuration.Filter.ExcludeTag = @($s.ExcludeTag) }

$run = Invoke-Pester -Configuration $configuration
if ($null -eq $run) { throw 'Invoke-Pester returned no result.' }
# A file that failed to load, or a failed BeforeAll/AfterAll, counts as a failure of its own.
[pscustomobject]@{
    Passed  = $run.PassedCount
    Failed  = $run.FailedCount + $run.FailedBlocksCount + $run.FailedContainersCount
    Skipped = $run.SkippedCount + $run.NotRunCount
} | ConvertTo-Json | Set-Content -Path $s.Result
if ($run.Result -ne 'Passed') { exit 1 }
