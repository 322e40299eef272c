#Requires -Version 7.4
<#
.SYNOPSIS
    Zero-downtime deploy under load, three contestants side by side: the seed's six-phase bash process
    (bench/seed-deploy.sh) and AedDeploy on an InPlace server, AedDeploy on a Release-layout server.
    Writes bench/results/zero-downtime.{md,json} and prints the Markdown.
.DESCRIPTION
    Each contestant gets a fresh loopback rig of its layout (same fixture app, PM2 cluster of 2 with the
    ready preload, nginx with proxy_cache) and, while the prober (tests/Rig/AedDeployProbe.psm1) sends one
    request per target every -IntervalMs (timeout -RequestTimeoutMs) straight to the app and through nginx:
      1. deploys the next version of the fixture: requests sent, failed requests by target and by phase,
         longest failure window, deploy wall time and per-phase times;
      2. deploys a version whose every answer is HTTP 500 while PM2 shows it online (fixture change
         Answer500), and measures the rollback: from the failure being detected (AedDeploy: its Health phase
         failing, the Rollback phase starting) to the old version answering every /api/health probe again.
         AedDeploy Release runs this with -SkipBootTest, or its boot test would stop the release before the
         live workers (0 failed requests) and there would be nothing to roll back. The seed cannot roll back:
         what it leaves is reported.
      3. AedDeploy Release only: deploys version 4 with -SkipBuildCache, for the build time cold against cached.
    Before the deploys, 10 s of the same probing with nothing else running give the live pages' idle latency
    (p50, p99 of / and /dynamic straight to the app), compared with the same during the build and the whole deploy.
    The static target is the live page's own client chunk, found by its content and made again before each
    deploy: the version-changing chunk, and the previous version's chunk once the deploy switched.
    The route never requested before (/fresh) is first requested 2 s after the build command starts (when an
    in-place `next build` has wiped .next), as the prober module explains. The whole run takes 10-15 minutes.
    Timings on a shared 2-core machine are noisy: the load average at the start and the end is recorded.
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Bench
.EXAMPLE
    dotnet pwsh ./bench/Measure-ZeroDowntimeDeploy.ps1 -Contestant Release
#>
param(
    [ValidateRange(20, 1000)] [int] $IntervalMs = 100,
    [ValidateRange(500, 10000)] [int] $RequestTimeoutMs = 5000,
    [ValidateSet('Seed', 'InPlace', 'Release')] [string[]] $Contestant = @('Seed', 'InPlace', 'Release'),
    [string] $OutputDirectory = (Join-Path $PSScriptRoot 'results')
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../tests/Pester/Common.ps1')
Import-Module (Join-Path $PSScriptRoot '../tests/Rig/AedDeployProbe.psm1') -Force
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')

$SeedScript = Get-Content -Raw -LiteralPath (Join-Path $PSScriptRoot 'seed-deploy.sh')
$Names = [ordered]@{ Seed = 'Seed (bash, six phases), InPlace'; InPlace = 'AedDeploy, InPlace'; Release = 'AedDeploy, Release' }


function ConvertTo-ShellArgument([string] $Value) { "'" + $Value.Replace("'", "'\''") + "'" }

function New-SeedProcess($Rig) {
    # The seed as it was run: OpenSSH, a new connection, the script on standard input.
    $remote = 'bash -s -- ' + (@($Rig.AppRoot, $Rig.AppName, "http://127.0.0.1:$($Rig.AppPort)/api/health", $Rig.NginxCachePath, $Rig.NginxReloadCommand, 'main') |
            ForEach-Object { ConvertTo-ShellArgument $_ }) -join ' '
    $psi = [Diagnostics.ProcessStartInfo]::new('/usr/bin/ssh')
    foreach ($a in '-i', $Rig.KeyPath, '-p', "$($Rig.SshPort)", '-o', "UserKnownHostsFile=$($Rig.KnownHostsPath)", '-o', 'StrictHostKeyChecking=yes',
        '-o', 'BatchMode=yes', "$($Rig.UserName)@$($Rig.HostName)", "$remote 2>&1") { $psi.ArgumentList.Add($a) }
    $psi
}

function New-AedDeployPowerShell($Rig, $Session, [hashtable] $Extra = @{}) {
    $parameters = @{
        Session = $Session; AppPath = $Rig.AppRoot; AppName = $Rig.AppName; Layout = $Rig.Layout; Ref = 'main'
        HealthUrl = "http://127.0.0.1:$($Rig.AppPort)/api/health"; CachePath = $Rig.NginxCachePath
        NginxTestCommand = $Rig.NginxTestCommand; NginxReloadCommand = $Rig.NginxReloadCommand; Confirm = $false; Verbose = $true
    }
    foreach ($key in $Extra.Keys) { $parameters[$key] = $Extra[$key] }
    $ps = New-ModulePowerShell
    $null = $ps.AddCommand('Invoke-ZeroDowntimeDeploy').AddParameters($parameters)
    $ps
}

function Invoke-MeasuredDeploy {
    # One deploy under the prober, with -LeadMs of probing before it and -TailMs after it.
    param($Rig, $Session, [string] $Kind, $ProbeSet, [hashtable] $Extra = @{}, [int] $LeadMs = 1000, [int] $TailMs = 2000, [switch] $NoFresh)
    $deferred = if ($NoFresh) { @{} } else { $ProbeSet.DeferredTargets }
    $probe = Start-AedProbe -Targets $ProbeSet.Targets -DeferredTargets $deferred -IntervalMs $IntervalMs -RequestTimeoutMs $RequestTimeoutMs -MaxDurationSec 420
    $ps = $null
    try {
        Start-Sleep -Milliseconds $LeadMs
        $run = if ($Kind -eq 'Seed') {
            Invoke-AedProbedDeploy -Probe $probe -ProcessStartInfo (New-SeedProcess $Rig) -InputText $SeedScript -TimeoutSec 360
        }
        else {
            $ps = New-AedDeployPowerShell $Rig $Session $Extra
            Invoke-AedProbedDeploy -Probe $probe -PowerShell $ps -TimeoutSec 360
        }
        Start-Sleep -Milliseconds $TailMs
    }
    finally {
        $result = Stop-AedProbe -Probe $probe
        if ($ps) { $ps.Dispose() }
    }
    $record = $run.Output | Where-Object { $_.GetType().FullName -eq 'AedDeploy.DeploymentRecord' } | Select-Object -Last 1
    [pscustomobject]@{ Run = $run; Probe = $result; Record = $record }
}

function Get-Percentile([double[]] $Values, [double] $Percent) {
    if ($Values.Count -eq 0) { return $null }
    $sorted = [double[]]($Values | Sort-Object)
    $sorted[[math]::Min($sorted.Count - 1, [math]::Ceiling($Percent / 100 * $sorted.Count) - 1)]
}

function Get-LiveLatency($Samples, [double] $FromMs = 0, [double] $ToMs = [double]::MaxValue) {
    # The live pages' answer times (straight to the app: what the workers cost, not nginx's cache): p50 and p99.
    $times = [double[]]@($Samples | Where-Object { $_.Target -in 'app:/', 'app:/dynamic' -and -not $_.Failed -and $_.AtMs -ge $FromMs -and $_.AtMs -lt $ToMs } |
            ForEach-Object DurationMs)
    [ordered]@{ Count = $times.Count; P50Ms = [math]::Round((Get-Percentile $times 50), 1); P99Ms = [math]::Round((Get-Percentile $times 99), 1) }
}

function Get-PhaseTable($Measured) {
    # Each phase as the deploy announced it: its span on the probe's clock and the requests that failed in it.
    $run = $Measured.Run
    $phases = @($run.Phases)
    for ($i = 0; $i -lt $phases.Count; $i++) {
        $from = $phases[$i].StartMs
        $to = if ($i + 1 -lt $phases.Count) { $phases[$i + 1].StartMs } else { $run.EndMs }
        $summary = Get-AedProbeSummary -Result $Measured.Probe -FromMs $from -ToMs $to
        $recorded = if ($Measured.Record) { $Measured.Record.Phases | Where-Object Name -eq $phases[$i].Name | Select-Object -First 1 }
        [pscustomobject][ordered]@{
            Name      = $phases[$i].Name
            StartMs   = $from
            Seconds   = if ($recorded) { [math]::Round($recorded.Duration.TotalSeconds, 1) } else { [math]::Round(($to - $from) / 1000, 1) }
            Sent      = ($summary | Measure-Object -Sum Sent).Sum
            Failed    = ($summary | Measure-Object -Sum Failed).Sum
            FailedBy  = ($summary | Where-Object Failed | ForEach-Object { "$($_.Target) $($_.Failed)" }) -join ', '
        }
    }
}

function Get-DeploySummary($Measured, [string] $Kind) {
    $run = $Measured.Run
    $probe = $Measured.Probe
    $window = Get-AedProbeSummary -Result $probe -FromMs $run.StartMs -ToMs $run.EndMs
    $phases = @(Get-PhaseTable $Measured)
    $seconds = if ($Measured.Record) { $Measured.Record.Duration.TotalSeconds } else { ($run.EndMs - $run.StartMs) / 1000 }
    $build = if ($Kind -eq 'Seed') { ($phases | Where-Object Name -in 'update', 'build' | Measure-Object -Sum Seconds).Sum }
    else { ($phases | Where-Object Name -in 'Fetch', 'Build' | Measure-Object -Sum Seconds).Sum }
    $buildPhase = $phases | Where-Object { $_.Name -in 'Build', 'build' } | Select-Object -First 1
    $buildEnd = if ($buildPhase) { $buildPhase.StartMs + $buildPhase.Seconds * 1000 }
    [ordered]@{
        Outcome               = if ($Measured.Record) { "$($Measured.Record.Outcome)" } else { "exit $($run.ExitCode)" }
        WallSeconds           = [math]::Round($seconds, 1)
        BuildSeconds          = [math]::Round($build, 1)
        BuildCache            = if ($Measured.Record) { ($Measured.Record.Phases | Where-Object Name -eq 'Build').Detail }
        LatencyDuringDeploy   = Get-LiveLatency $probe.Samples $run.StartMs $run.EndMs
        LatencyDuringBuild    = if ($buildPhase) { Get-LiveLatency $probe.Samples $buildPhase.StartMs $buildEnd }
        Sent                  = $probe.Sent
        Failed                = $probe.Failed
        FailedDuringDeploy    = ($window | Measure-Object -Sum Failed).Sum
        LongestFailureWindowMs = $probe.LongestFailureWindowMs
        FreshEnabledAtMs      = $run.ArmedAtMs
        DeployStartMs         = $run.StartMs
        DeployEndMs           = $run.EndMs
        Targets               = @($probe.Targets | ForEach-Object {
                [ordered]@{ Target = $_.Target; Sent = $_.Sent; Failed = $_.Failed; LongestFailureWindowMs = $_.LongestFailureWindowMs
                    FirstFailureAtMs = $_.FirstFailureAtMs; LastFailureAtMs = $_.LastFailureAtMs; Failures = $_.Failures; Versions = $_.Versions }
            })
        Phases                = $phases
        FailedSamples         = @($probe.Samples | Where-Object Failed | Select-Object -First 200 | ForEach-Object {
                [ordered]@{ AtMs = [math]::Round($_.AtMs); Target = $_.Target; Status = $_.Status; Error = $_.Error; DurationMs = [math]::Round($_.DurationMs) } })
    }
}

function Measure-Rollback($Measured, [string] $Kind, [string] $OldVersion) {
    # Detected: AedDeploy's Rollback phase starts (its Health phase has just failed); the seed's first failed
    # health attempt. Serving again: the first /api/health probe after that from which every answer is the old version.
    $run = $Measured.Run
    $health = @($Measured.Probe.Samples | Where-Object Target -eq 'app:/api/health')
    $detected = if ($Kind -eq 'Seed') { ($run.Lines | Where-Object Text -match '^Health check attempt 1 failed' | Select-Object -First 1).AtMs }
    else { ($run.Phases | Where-Object Name -eq 'Rollback' | Select-Object -First 1).StartMs }
    $restoredAt = $null
    $firstOldAt = $null
    if ($null -ne $detected) {
        $after = @($health | Where-Object AtMs -ge $detected)
        for ($i = $after.Count - 1; $i -ge 0; $i--) {
            if ($after[$i].Failed -or $after[$i].Version -ne $OldVersion) { break }
            $restoredAt = $after[$i].AtMs
        }
        # PM2 replaces the workers one at a time: the first of them answers with the old version before the last does.
        $firstOldAt = ($after | Where-Object { -not $_.Failed -and $_.Version -eq $OldVersion } | Select-Object -First 1).AtMs
    }
    $last = $health | Select-Object -Last 1
    $rollbackPhase = if ($Measured.Record) { $Measured.Record.Phases | Where-Object Name -eq 'Rollback' | Select-Object -First 1 }
    [ordered]@{
        Outcome                = if ($Measured.Record) { "$($Measured.Record.Outcome) ($($Measured.Record.FailedPhase), $($Measured.Record.ErrorId))" } else { "exit $($run.ExitCode)" }
        DetectedAtMs           = $detected
        OldVersionServingAtMs  = if ($null -ne $restoredAt) { [math]::Round($restoredAt) }
        RollbackSeconds        = if ($null -ne $restoredAt) { [math]::Round(($restoredAt - $detected) / 1000, 1) }
        FirstOldAnswerSeconds  = if ($null -ne $firstOldAt) { [math]::Round(($firstOldAt - $detected) / 1000, 1) }
        RollbackPhaseSeconds   = if ($rollbackPhase) { [math]::Round($rollbackPhase.Duration.TotalSeconds, 1) }
        Sent                   = $Measured.Probe.Sent
        Failed                 = $Measured.Probe.Failed
        LongestFailureWindowMs = $Measured.Probe.LongestFailureWindowMs
        ObservedUntilMs        = [math]::Round($Measured.Probe.DurationMs)
        DeployEndMs            = $run.EndMs
        LastHealthAnswer       = if ($last) { if ($last.Error) { $last.Error } else { "HTTP $($last.Status)$(if ($last.Version) { " (version $($last.Version))" })" } }
    }
}

function Invoke-Contestant([string] $Kind) {
    $layout = if ($Kind -eq 'Release') { 'Release' } else { 'InPlace' }
    Write-Host "==> $($Names[$Kind]): starting a $layout rig" -ForegroundColor Cyan
    $rig = Start-AedRig -Layout $layout
    $session = $null
    try {
        if ($Kind -ne 'Seed') { $session = New-RigSession $rig }
        $probeSet = Get-AedProbeTargetSet -Rig $rig
        # Both workers load every route but the fresh one first, so their warm-up is not counted against anyone.
        $warm = Start-AedProbe -Targets $probeSet.Targets -RequestTimeoutMs 10000 -MaxDurationSec 30
        Start-Sleep -Seconds 3
        $null = Stop-AedProbe -Probe $warm
        # The live pages' latency with nothing else running, against which the deploy's is compared.
        $idleProbe = Start-AedProbe -Targets $probeSet.Targets -IntervalMs $IntervalMs -RequestTimeoutMs $RequestTimeoutMs -MaxDurationSec 30
        Start-Sleep -Seconds 10
        $idle = Get-LiveLatency (Stop-AedProbe -Probe $idleProbe).Samples

        Write-Host "    deploying version 2 under load"
        $null = Publish-AedFixtureVersion -Rig $rig -Version '2'
        $good = Invoke-MeasuredDeploy -Rig $rig -Session $session -Kind $Kind -ProbeSet $probeSet
        $deploy = Get-DeploySummary $good $Kind
        Write-Host "    $($deploy.Outcome) in $($deploy.WallSeconds) s; $($deploy.Failed) of $($deploy.Sent) requests failed"

        Write-Host "    deploying version 3, which answers 500 while PM2 shows it online"
        $null = Publish-AedFixtureVersion -Rig $rig -Version '3-answer500' -Change Answer500
        $probeSet = Get-AedProbeTargetSet -Rig $rig
        $extra = @{}
        if ($Kind -eq 'Release') { $extra.SkipBootTest = $true }
        # The seed is watched for 20 s after it gives up, to show that nothing brings the old version back.
        $tail = if ($Kind -eq 'Seed') { 20000 } else { 3000 }
        $bad = Invoke-MeasuredDeploy -Rig $rig -Session $session -Kind $Kind -ProbeSet $probeSet -Extra $extra -TailMs $tail -NoFresh
        $rollback = Measure-Rollback $bad $Kind '2'
        Write-Host "    $($rollback.Outcome); rollback $(if ($null -ne $rollback.RollbackSeconds) { "$($rollback.RollbackSeconds) s" } else { 'none' })"
        $cold = $null
        if ($Kind -eq 'Release') {
            # The same deploy with an empty .next/cache, as every Release build started before cached builds.
            Write-Host "    deploying version 4 with -SkipBuildCache (a cold build)"
            $null = Publish-AedFixtureVersion -Rig $rig -Version '4'
            $probeSet = Get-AedProbeTargetSet -Rig $rig
            $cold = Get-DeploySummary (Invoke-MeasuredDeploy -Rig $rig -Session $session -Kind $Kind -ProbeSet $probeSet -Extra @{ SkipBuildCache = $true } -NoFresh) $Kind
            Write-Host "    $($cold.Outcome) in $($cold.WallSeconds) s (build $($cold.BuildSeconds) s cold against $($deploy.BuildSeconds) s cached); $($cold.Failed) of $($cold.Sent) requests failed"
        }
        [ordered]@{ Name = $Names[$Kind]; Kind = $Kind; Layout = $layout; Idle = $idle; Deploy = $deploy; Rollback = $rollback; Cold = $cold
            RigStartSeconds = ($rig.Timings.Values | Measure-Object -Sum).Sum }
    }
    finally {
        if ($session) { Remove-DeploySession $session }
        Stop-AedRig -Rig $rig
    }
}

$clock = [Diagnostics.Stopwatch]::StartNew()
$loadBefore = Get-LoadAverage
$results = foreach ($kind in $Names.Keys) { if ($kind -in $Contestant) { Invoke-Contestant $kind } }
$result = New-BenchResult -Name 'zero-downtime' -Clock $clock -LoadBefore $loadBefore -IntervalMs $IntervalMs -RequestTimeoutMs $RequestTimeoutMs
$result.Contestants = @($results)

$c = @($results)
$targets = @($c[0].Deploy.Targets.Target)
$md = [Collections.Generic.List[string]]::new()
$md.Add("Deploying the next version of the fixture app under load (one GET per target every $IntervalMs ms, timeout $RequestTimeoutMs ms, $($targets.Count) targets):")
$md.Add('')
$md.Add('| | ' + (($c | ForEach-Object Name) -join ' | ') + ' |')
$md.Add('|---|' + (($c | ForEach-Object { '---:' }) -join '|') + '|')
$md.Add('| outcome | ' + (($c | ForEach-Object { $_.Deploy.Outcome }) -join ' | ') + ' |')
$md.Add('| requests sent | ' + (($c | ForEach-Object { $_.Deploy.Sent }) -join ' | ') + ' |')
$md.Add('| **failed requests** | ' + (($c | ForEach-Object { "**$($_.Deploy.Failed)**" }) -join ' | ') + ' |')
$md.Add('| longest failure window | ' + (($c | ForEach-Object { Format-Ms $_.Deploy.LongestFailureWindowMs }) -join ' | ') + ' |')
$md.Add('| deploy wall time | ' + (($c | ForEach-Object { "$($_.Deploy.WallSeconds) s" }) -join ' | ') + ' |')
$md.Add('| of which fetch + install + build | ' + (($c | ForEach-Object { "$($_.Deploy.BuildSeconds) s" }) -join ' | ') + ' |')
$md.Add('| deploy wall time − build | ' + (($c | ForEach-Object { "$([math]::Round($_.Deploy.WallSeconds - $_.Deploy.BuildSeconds, 1)) s" }) -join ' | ') + ' |')
$md.Add('| build: cached (the live release''s .next/cache) / cold | ' + (($c | ForEach-Object {
                if ($_.Cold) { "$($_.Deploy.BuildSeconds) s / $($_.Cold.BuildSeconds) s (-SkipBuildCache; that deploy: $($_.Cold.Failed) of $($_.Cold.Sent) failed)" }
                else { "$($_.Deploy.BuildSeconds) s (the checkout keeps its own .next/cache)" }
            }) -join ' | ') + ' |')
$md.Add('| live page latency idle: p50 / p99 | ' + (($c | ForEach-Object { "$($_.Idle.P50Ms) / $($_.Idle.P99Ms) ms" }) -join ' | ') + ' |')
$md.Add('| during the build: p50 / p99 (p99 ÷ idle p99) | ' + (($c | ForEach-Object {
                $l = $_.Deploy.LatencyDuringBuild
                if ($l -and $l.Count) { "$($l.P50Ms) / $($l.P99Ms) ms (**$([math]::Round($l.P99Ms / $_.Idle.P99Ms, 2))×**)" } else { '-' }
            }) -join ' | ') + ' |')
$md.Add('| during the whole deploy: p50 / p99 (p99 ÷ idle p99) | ' + (($c | ForEach-Object {
                $l = $_.Deploy.LatencyDuringDeploy
                "$($l.P50Ms) / $($l.P99Ms) ms ($([math]::Round($l.P99Ms / $_.Idle.P99Ms, 2))×)"
            }) -join ' | ') + ' |')
$md.Add('| rollback of a release answering 500 (failure detected → old version serving) | ' + (($c | ForEach-Object {
                $r = $_.Rollback
                if ($null -ne $r.RollbackSeconds) {
                    "$($r.RollbackSeconds) s (first old answer after $($r.FirstOldAnswerSeconds) s; rollback phase with its health proof $($r.RollbackPhaseSeconds) s)$(if ($_.Kind -eq 'Release') { ', run with -SkipBootTest' })"
                }
                else { "none: still $($r.LastHealthAnswer) $(Format-Ms ($r.ObservedUntilMs - $r.DeployEndMs)) after it exited ($($r.Outcome))" }
            }) -join ' | ') + ' |')
$md.Add('| failed requests during that rollback deploy | ' + (($c | ForEach-Object { $_.Rollback.Failed }) -join ' | ') + ' |')
$md.Add('')
$md.Add('Failed requests by target during the good deploy (`app:` straight to the PM2 port, a new connection per request; `nginx:` through nginx, kept-alive; ' +
    '`static` is the live page''s own client chunk of the version live before the deploy, found by its content, so the previous version''s chunk once the deploy switched):')
$md.Add('')
$md.Add('| target | ' + (($c | ForEach-Object Name) -join ' | ') + ' |')
$md.Add('|---|' + (($c | ForEach-Object { '---:' }) -join '|') + '|')
foreach ($t in $targets) {
    $md.Add("| $t | " + (($c | ForEach-Object {
                    $row = $_.Deploy.Targets | Where-Object Target -eq $t
                    if ($row.Failed) { "$($row.Failed)/$($row.Sent) ($($row.Failures); longest $(Format-Ms $row.LongestFailureWindowMs))" } else { "0/$($row.Sent)" }
                }) -join ' | ') + ' |')
}
$md.Add('')
$md.Add('Phases of the good deploy (duration; failed requests sent during the phase):')
$md.Add('')
foreach ($x in $c) {
    if ($x.Cold) { $md.Add("- $($x.Name), cold build (-SkipBuildCache): " + (($x.Cold.Phases | ForEach-Object { "$($_.Name) $($_.Seconds) s$(if ($_.Failed) { " (**$($_.Failed) failed**)" })" }) -join ', ')) }
    $md.Add("- $($x.Name): " + (($x.Deploy.Phases | ForEach-Object { "$($_.Name) $($_.Seconds) s$(if ($_.Failed) { " (**$($_.Failed) failed**)" })" }) -join ', '))
}
$md.Add('')
$md.Add("Measured $($result.Date) on $($result.Machine), load average $loadBefore at the start and $($result.LoadAverageEnd) at the end " +
    "(the machine is shared: timings are noisy, failure counts much less so). One fresh loopback rig per contestant: PM2 cluster of 2 with the ready " +
    "preload, nginx with proxy_cache; the seed runs over OpenSSH, AedDeploy over one SSH session. The route never requested before (/fresh) is " +
    "first requested 2 s after the build command starts. Whole run: $($result.TotalSeconds) s. Command: ``dotnet pwsh ./build.ps1 -Task Bench``.")
$markdown = $md -join "`n"

Save-BenchResult -OutputDirectory $OutputDirectory -Name 'zero-downtime' -Result $result -Markdown $markdown -Depth 8
