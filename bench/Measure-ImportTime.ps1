#Requires -Version 7.4
<#
.SYNOPSIS
    Import time of the built module: Import-Module in N fresh PowerShell processes, measured inside each
    (the process start is not counted), and the first command after it. Writes bench/results/import-time.{md,json}.
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Bench
#>
param(
    [ValidateRange(3, 100)] [int] $Count = 10,
    [string] $OutputDirectory = (Join-Path $PSScriptRoot 'results')
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../tests/Pester/Common.ps1')

$script = @'
param($Module)
$watch = [Diagnostics.Stopwatch]::StartNew()
Import-Module $Module
$import = $watch.Elapsed.TotalMilliseconds
$watch.Restart()
$session = New-DeploySession -Local
$null = Invoke-DeployCommand -Session $session -Command 'true'
"{0:0.0} {1:0.0}" -f $import, $watch.Elapsed.TotalMilliseconds
'@
$samples = foreach ($i in 1..$Count) {
    $line = @(Invoke-FreshPwsh -Script $script)[-1]
    $import, $first = $line -split ' ' | ForEach-Object { [double]$_ }
    [pscustomobject]@{ ImportMs = $import; FirstCommandMs = $first }
}

function Get-Median([double[]] $Values) { ($Values | Sort-Object)[[int][math]::Floor($Values.Count / 2)] }
$result = [ordered]@{
    Benchmark        = 'import-time'
    Date             = (Get-Date).ToString('yyyy-MM-dd HH:mm')
    Machine          = "$([Environment]::ProcessorCount) cores, $([Runtime.InteropServices.RuntimeInformation]::OSDescription)"
    Count            = $Count
    ImportMedianMs   = Get-Median $samples.ImportMs
    ImportMaxMs      = ($samples.ImportMs | Measure-Object -Maximum).Maximum
    FirstCommandMedianMs = Get-Median $samples.FirstCommandMs
}
New-Item -ItemType Directory -Force $OutputDirectory | Out-Null
$result | ConvertTo-Json | Set-Content (Join-Path $OutputDirectory 'import-time.json')
$markdown = @(
    "| $Count fresh processes | median | max |"
    '|---|---:|---:|'
    "| ``Import-Module AedDeploy`` | $($result.ImportMedianMs) ms | $($result.ImportMaxMs) ms |"
    "| first command after it (``New-DeploySession -Local`` + ``Invoke-DeployCommand``, loads the engine) | $($result.FirstCommandMedianMs) ms | |"
    ''
    "Measured $($result.Date) on $($result.Machine)."
) -join "`n"
$markdown | Set-Content (Join-Path $OutputDirectory 'import-time.md')
$markdown
