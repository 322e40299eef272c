#Requires -Version 7.4
<#
.SYNOPSIS
    Fleet deploys against deploying each host on its own: the wall time of one fleet deploy (built once, shipped,
    one host per batch) to 1, 2 and 3 hosts, the same hosts deployed one after another with the single-host deploy,
    the ship (bytes and time), and the requests that failed through the load balancer meanwhile. Writes
    bench/results/fleet.{md,json} and prints the Markdown.
.DESCRIPTION
    Fleet rigs of 1, 2 and 3 hosts (each host its own sshd, user, PM2 cluster of 2 with the ready preload, nginx
    serving the static pool) behind a load-balancer nginx, all on loopback addresses of their own. While the prober
    (tests/Rig/AedDeployProbe.psm1) sends one request per target every -IntervalMs (timeout -RequestTimeoutMs) to
    /, /dynamic, /api/health and the live page's own client chunk through the load balancer:
      1. for N = 1, 2, 3, on a fleet of N: a new version, deployed as one fleet deploy (-BatchSize 1, -LoadBalancerUrl);
         N = 1 goes through the fleet path too (-BuildOn), so the three rows compare like with like;
      2. on the fleet of 3: the same with -BatchSize 2 and -BatchSize 100%;
      3. on the fleet of 3: a new version, deployed to hosts 1, 2 and 3 one after another with the single-host deploy
         (three builds).
    Every deploy must succeed, or the benchmark stops. The whole run takes about 5 minutes.
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Bench
.EXAMPLE
    dotnet pwsh ./bench/Measure-FleetDeploy.ps1
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

function Get-Member([object[]] $Hosts) {
    # One pipeline object per host: its session and its own paths, ports and nginx commands.
    foreach ($h in $Hosts) {
        [pscustomobject]@{
            Session            = $sessions[$h.HostName]
            AppPath            = $h.AppRoot
            AppName            = $h.AppName
            HealthUrl          = "http://$($h.HostName):$($h.AppPort)/api/health"
            CachePath          = $h.NginxCachePath
            NginxTestCommand   = $h.NginxTestCommand
            NginxReloadCommand = $h.NginxReloadCommand
        }
    }
}

function Measure-Deploy([scriptblock] $Deploy) {
    # One run under the prober through the load balancer; the probe set is made again so that its chunk is the live version's.
    $probeSet = Get-AedProbeTargetSet -AppUrl $fleet.LoadBalancerUrl -FreshPath ''
    $probe = Start-AedProbe -Targets $probeSet.Targets -IntervalMs $IntervalMs -RequestTimeoutMs $RequestTimeoutMs -MaxDurationSec 900
    $clock = [Diagnostics.Stopwatch]::StartNew()
    try {
        Start-Sleep -Milliseconds 500
        $started = $clock.Elapsed.TotalSeconds
        $records = @(& $Deploy)
        $seconds = $clock.Elapsed.TotalSeconds - $started
        Start-Sleep -Seconds 1
    }
    finally { $result = Stop-AedProbe -Probe $probe }
    [ordered]@{
        Seconds  = [math]::Round($seconds, 1)
        Sent     = $result.Sent
        Failed   = $result.Failed
        Targets  = @($result.Targets | ForEach-Object { [ordered]@{ Target = $_.Target; Sent = $_.Sent; Failed = $_.Failed; Failures = $_.Failures } })
        Records  = $records
    }
}

$clock = [Diagnostics.Stopwatch]::StartNew()
$loadBefore = Get-LoadAverage
$runs = [ordered]@{}
# A fleet of each size, so that every deploy starts from a fleet on one version: deploying some hosts of a larger
# fleet would leave the others on another build, whose chunks the rest lacks.
foreach ($n in 1..3) {
    Write-Host "==> Fleet deploys: starting a fleet rig of $n host(s) and a load balancer" -ForegroundColor Cyan
    $fleet = Start-AedFleetRig -Count $n
    $sessions = @{}
    try {
        foreach ($h in $fleet.Hosts) {
            $sessions[$h.HostName] = New-RigSession $h
            # Each host's nginx serves /_next/static from its static pool, as a fleet's should (Initialize-DeployTarget -StaticPool).
            $null = Initialize-DeployTarget -Session $sessions[$h.HostName] -AppPath $h.AppRoot -AppName $h.AppName -StaticPool `
                -StaticPoolUpstream "http://$($h.HostName):$($h.AppPort)" -NginxTestCommand $h.NginxTestCommand -Confirm:$false -InformationAction Ignore
            $null = Invoke-AedRigShell -Rig $h -Command $h.NginxReloadCommand
        }
        $ref = "bench$n"
        $null = Publish-AedFixtureVersion -Rig $fleet.Hosts[0] -Version $ref -Branch $ref
        Write-Host "    fleet deploy to $n host(s)"
        $members = @(Get-Member $fleet.Hosts)
        $run = Measure-Deploy {
            # -BuildOn: one host goes through the fleet path too, so that the rows compare like with like.
            $members | Invoke-ZeroDowntimeDeploy -Ref $ref -BuildOn $members[0].Session -BatchSize 1 -LoadBalancerUrl "$($fleet.LoadBalancerUrl)/api/health" -RetryIntervalSec 1 -Confirm:$false
        }
        $record = $run.Records[0]
        if ($record.Outcome -ne 'Succeeded') { throw "The fleet deploy to $n host(s) did not succeed: $($record.Reason)" }
        $run.ShipBytes = $record.ShipBytes
        $run.ShipSeconds = [math]::Round($record.ShipDuration.TotalSeconds, 2)
        $run.BuildSeconds = [math]::Round((($record.Hosts | Where-Object HostName -eq $record.BuildHost).Phases | Where-Object Name -eq 'Build').Duration.TotalSeconds, 1)
        $run.Phases = @($record.Phases | ForEach-Object { [ordered]@{ Name = $_.Name; Seconds = [math]::Round($_.Duration.TotalSeconds, 2) } })
        $run.Records = $null
        $runs["Fleet$n"] = $run
        Write-Host "    $($run.Seconds) s, $($run.Failed) of $($run.Sent) failed"

        if ($n -eq 3) {
            foreach ($size in '2', '100%') {
                $ref = "bench-batch$($size.TrimEnd('%'))"
                $null = Publish-AedFixtureVersion -Rig $fleet.Hosts[0] -Version $ref -Branch $ref
                Write-Host "    fleet deploy to 3 hosts, -BatchSize $size"
                $run = Measure-Deploy {
                    $members | Invoke-ZeroDowntimeDeploy -Ref $ref -BatchSize $size -LoadBalancerUrl "$($fleet.LoadBalancerUrl)/api/health" -RetryIntervalSec 1 -Confirm:$false
                }
                if ($run.Records[0].Outcome -ne 'Succeeded') { throw "The fleet deploy with -BatchSize $size did not succeed: $($run.Records[0].Reason)" }
                $run.Batches = $run.Records[0].Batches.Count
                $run.Records = $null
                $runs["Fleet3Batch$($size.TrimEnd('%'))"] = $run
                Write-Host "    $($run.Seconds) s, $($run.Failed) of $($run.Sent) failed"
            }

            $ref = 'bench-sequential'
            $null = Publish-AedFixtureVersion -Rig $fleet.Hosts[0] -Version $ref -Branch $ref
            Write-Host '    hosts 1, 2, 3 one after another, single-host deploys'
            $run = Measure-Deploy {
                foreach ($member in $members) {
                    $one = $member | Invoke-ZeroDowntimeDeploy -Ref $ref -RetryIntervalSec 1 -Confirm:$false
                    if ($one.Outcome -ne 'Succeeded') { throw "The single-host deploy to $($member.Session.HostName) did not succeed: $($one.Reason)" }
                    $one
                }
            }
            $run.PerHostSeconds = @($run.Records | ForEach-Object { [math]::Round($_.Duration.TotalSeconds, 1) })
            $run.Records = $null
            $runs.Sequential3 = $run
            Write-Host "    $($run.Seconds) s, $($run.Failed) of $($run.Sent) failed"
        }
    }
    finally {
        foreach ($s in $sessions.Values) { Remove-DeploySession $s }
        Stop-AedFleetRig -Fleet $fleet
    }
}

$result = New-BenchResult -Name 'fleet' -Clock $clock -LoadBefore $loadBefore -IntervalMs $IntervalMs -RequestTimeoutMs $RequestTimeoutMs
$result.Runs = $runs
$one = $runs.Fleet1.Seconds
$md = [Collections.Generic.List[string]]::new()
$md.Add("Fleet deploys through a load balancer (one GET per target every $IntervalMs ms, timeout $RequestTimeoutMs ms, to /, /dynamic, /api/health and the live page's own chunk, all through the load balancer):")
$md.Add('')
$md.Add('| deploy | wall time | vs 1 host | build | ship | requests sent | **failed** |')
$md.Add('|---|---:|---:|---:|---:|---:|---:|')
foreach ($n in 1..3) {
    $m = $runs["Fleet$n"]
    $ship = if ($n -gt 1) { "$([math]::Round($m.ShipBytes / 1MB, 1)) MiB in $($m.ShipSeconds) s" } else { '-' }
    $md.Add("| fleet, $n host(s), built once | $($m.Seconds) s | $([math]::Round($m.Seconds / $one, 2))x | $($m.BuildSeconds) s | $ship | $($m.Sent) | **$($m.Failed)** |")
}
foreach ($size in '2', '100') {
    $m = $runs["Fleet3Batch$size"]
    $md.Add("| fleet, 3 hosts, -BatchSize $(if ($size -eq '100') { '100%' } else { $size }) ($($m.Batches) batch(es)) | $($m.Seconds) s | $([math]::Round($m.Seconds / $one, 2))x | | | $($m.Sent) | **$($m.Failed)** |")
}
$s = $runs.Sequential3
$md.Add("| 3 hosts one after another (single-host deploys, 3 builds: $($s.PerHostSeconds -join ' + ') s) | $($s.Seconds) s | $([math]::Round($s.Seconds / $one, 2))x | | | $($s.Sent) | **$($s.Failed)** |")
$md.Add('')
$md.Add("Each batch is proven healthy on each of its hosts (the reload, then 3 s in which PM2 must show no restart) and through the load balancer before the next starts; that is what one more batch costs. Measured $($result.Date) on $($result.Machine) " +
    "(all hosts, the load balancer, the prober and the deploying pwsh share the cores), load average $loadBefore at the start and $($result.LoadAverageEnd) at the end. " +
    "Whole run: $($result.TotalSeconds) s. Command: ``dotnet pwsh ./bench/Measure-FleetDeploy.ps1`` (also in ``dotnet pwsh ./build.ps1 -Task Bench``).")
$markdown = $md -join "`n"

Save-BenchResult -OutputDirectory $OutputDirectory -Name 'fleet' -Result $result -Markdown $markdown -Depth 6
