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

Write-Host 'Bringing up the loopback rig (first run: installs PM2 and builds the fixture app, about a minute)...'
$rig = Start-AedRig -Layout Release
try {
    $session = New-RigSession $rig
    Write-Host "Serving version $((Get-RigAppHealth $rig -ViaNginx).version) through nginx on http://127.0.0.1:$($rig.NginxPort)/"
    Publish-AedFixtureVersion -Rig $rig -Version '2' | Out-Null
    Write-Host 'Pushed version 2 to origin; deploying it...'
    $record = Invoke-ZeroDowntimeDeploy -Session $session -AppPath $rig.AppRoot -AppName $rig.AppName -Ref main `
        -HealthUrl "http://127.0.0.1:$($rig.AppPort)/api/health" -ContentPattern '"version":"2"' `
        -CachePath $rig.NginxCachePath -NginxTestCommand $rig.NginxTestCommand -NginxReloadCommand $rig.NginxReloadCommand -Confirm:$false
    $record | Format-List Id, HostName, AppName, Layout, Ref, Outcome, FromRelease, ToRelease, FromBuildId, ToBuildId, Duration
    $record.Phases | Format-Table Name, Outcome, @{ Name = 'Seconds'; Expression = { '{0:0.0}' -f $_.Duration.TotalSeconds } }, Detail -AutoSize
    Write-Host "Now serving version $((Get-RigAppHealth $rig -ViaNginx).version) through nginx."
    Remove-DeploySession $session
}
finally {
    Stop-AedRig -Rig $rig
    Write-Host 'Rig stopped.'
}
