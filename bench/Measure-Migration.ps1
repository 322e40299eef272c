#Requires -Version 7.4
<#
.SYNOPSIS
    Moving an app from the seed's layout (an InPlace checkout that PM2 runs) to the Release layout under load:
    the requests refused while Initialize-DeployTarget moves PM2's app to <app>/current, against the delete and
    start that the move was before. Writes bench/results/migration.{md,json} and prints the Markdown.
.DESCRIPTION
    One InPlace rig (PM2 cluster of 2 with the ready preload, nginx). While the prober
    (tests/Rig/AedDeployProbe.psm1) sends one request per target every -IntervalMs (timeout -RequestTimeoutMs)
    to /, /dynamic, /api/health and the live page's own client chunk, straight to the app and through nginx:
      1. Initialize-DeployTarget sets a Release layout up at a new path, builds its first release from the
         rig's origin (the live app serving meanwhile) and moves PM2's app from the checkout to <new>/current:
         cluster mode, so the new workers start beside the old ones under a temporary name first.
      2. The move back to the checkout the way Initialize-DeployTarget made it before: pm2 delete, then pm2
         start from the other folder, waiting until every instance is online.
    The whole run takes about 2 minutes.
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Bench
.EXAMPLE
    dotnet pwsh ./bench/Measure-Migration.ps1
#>
param(
    [ValidateRange(20, 1000)] [int] $IntervalMs = 100,
    [ValidateRange(500, 10000)] [int] $RequestTimeoutMs = 5000,
    [string] $OutputDirectory = (Join-Path $PSScriptRoot 'results')
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../tests/Pester/Common.ps1')
Import-Module (Join-Path $PSScriptRoot '../tests/Rig/AedDeployProbe.psm1') -Force
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')


function Measure-Move($ProbeSet, [scriptblock] $Move) {
    $probe = Start-AedProbe -Targets $ProbeSet.Targets -IntervalMs $IntervalMs -RequestTimeoutMs $RequestTimeoutMs -MaxDurationSec 600
    $clock = [Diagnostics.Stopwatch]::StartNew()
    try {
        Start-Sleep -Seconds 1
        $started = $clock.Elapsed.TotalSeconds
        $output = & $Move
        $seconds = $clock.Elapsed.TotalSeconds - $started
        Start-Sleep -Seconds 2
    }
    finally { $result = Stop-AedProbe -Probe $probe }
    [ordered]@{
        Seconds                = [math]::Round($seconds, 1)
        Sent                   = $result.Sent
        Failed                 = $result.Failed
        LongestFailureWindowMs = $result.LongestFailureWindowMs
        Targets                = @($result.Targets | ForEach-Object { [ordered]@{ Target = $_.Target; Sent = $_.Sent; Failed = $_.Failed; Failures = $_.Failures } })
        Output                 = $output
    }
}

$clock = [Diagnostics.Stopwatch]::StartNew()
$loadBefore = Get-LoadAverage
Write-Host '==> Migration InPlace -> Release: starting an InPlace rig' -ForegroundColor Cyan
$rig = Start-AedRig -Layout InPlace
$session = $null
try {
    $session = New-RigSession $rig
    $newRoot = "$($rig.Home)/app-release"
    # The server's own settings for the new layout, as an operator puts them in shared/ before the move.
    Invoke-AedRigShell -Rig $rig -Command (
        "mkdir -p '$newRoot/shared' && printf 'PORT=%s\nAPP_CWD=%s\nREADY_PRELOAD=%s\n' '$($rig.AppPort)' '$newRoot/current' '$newRoot/.aeddeploy/ready-preload.cjs' > '$newRoot/shared/.env'") | Out-Null
    $probeSet = Get-AedProbeTargetSet -Rig $rig -FreshPath ''
    $warm = Start-AedProbe -Targets $probeSet.Targets -RequestTimeoutMs 10000 -MaxDurationSec 30
    Start-Sleep -Seconds 3
    $null = Stop-AedProbe -Probe $warm

    Write-Host '    Initialize-DeployTarget: first release built, PM2''s app moved to current'
    $now = Measure-Move $probeSet {
        $live = Initialize-DeployTarget -Session $session -AppPath $newRoot -AppName $rig.AppName -Repository $rig.OriginUrl -Confirm:$false -WarningAction SilentlyContinue
        "release $($live.Id)"
    }
    $cwd = @(Get-AedRigPm2Process -Rig $rig).pm_cwd | Sort-Object -Unique
    if ("$cwd" -ne "$newRoot/current") { throw "After Initialize-DeployTarget PM2 runs the app from $cwd, not $newRoot/current." }
    Write-Host "    $($now.Failed) of $($now.Sent) requests failed in $($now.Seconds) s"

    Write-Host '    delete and start from the other folder (the move before)'
    $before = Measure-Move (Get-AedProbeTargetSet -Rig $rig -FreshPath '') {
        Invoke-AedRigShell -Rig $rig -Command "pm2 delete $($rig.AppName) >/dev/null && cd '$($rig.AppRoot)' && pm2 start ecosystem.config.cjs --only $($rig.AppName) >/dev/null" | Out-Null
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while (@(Get-AedRigPm2Process -Rig $rig | Where-Object status -ne 'online').Count -gt 0 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200 }
    }
    Write-Host "    $($before.Failed) of $($before.Sent) requests failed in $($before.Seconds) s"
}
finally {
    if ($session) { Remove-DeploySession $session }
    Stop-AedRig -Rig $rig
}

$result = New-BenchResult -Name 'migration' -Clock $clock -LoadBefore $loadBefore -IntervalMs $IntervalMs -RequestTimeoutMs $RequestTimeoutMs
$result.InitializeDeployTarget = $now
$result.DeleteAndStart = $before

$rows = [ordered]@{ 'Initialize-DeployTarget (temporary app beside the old one)' = $now; 'delete and start (the move before)' = $before }
$md = [Collections.Generic.List[string]]::new()
$md.Add("Moving PM2's app from an InPlace checkout to a Release layout's current under load (one GET per target every $IntervalMs ms, timeout $RequestTimeoutMs ms, $($probeSet.Targets.Count) targets):")
$md.Add('')
$md.Add('| move | took | requests sent | **failed** | longest failure window | failed by target |')
$md.Add('|---|---:|---:|---:|---:|---|')
foreach ($row in $rows.GetEnumerator()) {
    $m = $row.Value
    $by = ($m.Targets | Where-Object Failed | ForEach-Object { "$($_.Target) $($_.Failed) ($($_.Failures))" }) -join ', '
    $md.Add("| $($row.Key) | $($m.Seconds) s | $($m.Sent) | **$($m.Failed)** | $(Format-Ms $m.LongestFailureWindowMs) | $(if ($by) { $by } else { '-' }) |")
}
$md.Add('')
$md.Add("Initialize-DeployTarget's time includes building the first release while the old workers serve. Measured $($result.Date) on $($result.Machine), " +
    "load average $loadBefore at the start and $($result.LoadAverageEnd) at the end. Whole run: $($result.TotalSeconds) s. Command: ``dotnet pwsh ./build.ps1 -Task Bench``.")
$markdown = $md -join "`n"

Save-BenchResult -OutputDirectory $OutputDirectory -Name 'migration' -Result $result -Markdown $markdown -Depth 6
