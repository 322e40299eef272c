#Requires -Version 7.4
<#
.SYNOPSIS
    The demo deploy on loopback: brings up the rig (sshd, PM2 cluster, the Next.js fixture, nginx, a git
    origin), deploys a new version with Invoke-ZeroDowntimeDeploy while a prober sends requests, prints the
    record and the failed requests, and tears everything down.
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 -Task Demo
#>
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'Pester/Common.ps1')
Import-Module (Join-Path $PSScriptRoot 'Rig/AedDeployProbe.psm1') -Force

Write-Host 'Bringing up the loopback rig (first run: installs PM2 and builds the fixture app, about a minute)...'
$rig = Start-AedRig -Layout Release
try {
    $session = New-RigSession $rig
    Write-Host "Serving version $((Get-RigAppHealth $rig -ViaNginx).version) through nginx on http://127.0.0.1:$($rig.NginxPort)/"
    Publish-AedFixtureVersion -Rig $rig -Version '2' | Out-Null
    # Load on loopback: every 100 ms a request to each page, the API, a static chunk of the live version and
    # a route never requested before, straight to the app and through nginx; bounded to 10 minutes.
    $targets = Get-AedProbeTargetSet -Rig $rig
    $all = [ordered]@{}
    foreach ($set in $targets.Targets, $targets.DeferredTargets) { foreach ($entry in $set.GetEnumerator()) { $all[$entry.Key] = $entry.Value } }
    $probe = Start-AedProbe -Targets $all -IntervalMs 100 -MaxDurationSec 600
    Write-Host "Pushed version 2 to origin; deploying it while $($all.Count) URLs are probed every 100 ms..."
    try {
        $record = Invoke-ZeroDowntimeDeploy -Session $session -AppPath $rig.AppRoot -AppName $rig.AppName -Ref main `
            -HealthUrl "http://127.0.0.1:$($rig.AppPort)/api/health" -ContentPattern '"version":"2"' `
            -CachePath $rig.NginxCachePath -NginxTestCommand $rig.NginxTestCommand -NginxReloadCommand $rig.NginxReloadCommand -Confirm:$false
    }
    finally {
        $load = Stop-AedProbe -Probe $probe
    }
    $record | Format-List Id, HostName, AppName, Layout, Ref, Outcome, FromRelease, ToRelease, FromBuildId, ToBuildId, Duration
    $record.Phases | Format-Table Name, Outcome, @{ Name = 'Seconds'; Expression = { '{0:0.0}' -f $_.Duration.TotalSeconds } }, Detail -AutoSize
    $load.Targets | Format-Table -AutoSize
    Write-Host "Requests sent during the deploy: $($load.Sent); failed: $($load.Failed)."
    Write-Host "Now serving version $((Get-RigAppHealth $rig -ViaNginx).version) through nginx."
    Remove-DeploySession $session
}
finally {
    Stop-AedRig -Rig $rig
    Write-Host 'Rig stopped.'
}
