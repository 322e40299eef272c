# Dot-sourced by every Pester file in BeforeAll: imports the built module (never the source tree) and the rig.
$moduleManifest = $env:AEDDEPLOY_MODULE
if (-not $moduleManifest) {
    # Run outside build.ps1: take the newest built layout.
    $moduleManifest = Get-ChildItem (Join-Path $PSScriptRoot '../../out/AedDeploy/*/AedDeploy.psd1') |
        Sort-Object { [version]$_.Directory.Name } | Select-Object -Last 1 -ExpandProperty FullName
}
if (-not $moduleManifest -or -not (Test-Path $moduleManifest)) {
    throw 'The built module was not found: run ./build.ps1 -Task Build first (or ./build.ps1 -Task Test).'
}
Import-Module $moduleManifest -Force
Import-Module (Join-Path $PSScriptRoot '../Rig/AedDeployRig.psm1') -Force

function New-ModulePowerShell {
    # A PowerShell instance in its own runspace with the built module imported, to run a cmdlet in the
    # background and stop it as Ctrl+C would.
    $state = [initialsessionstate]::CreateDefault2()
    $state.ImportPSModule([string[]]@($moduleManifest))
    [powershell]::Create($state)
}

function New-RigSession($Rig) {
    New-DeploySession -HostName $Rig.HostName -Port $Rig.SshPort -UserName $Rig.UserName -KeyFilePath $Rig.KeyPath -KnownHostsPath $Rig.KnownHostsPath
}

function Get-RigAppHealth($Rig, [switch] $ViaNginx) {
    # What the live app says about itself: version, buildId, pid, featureFlag.
    $port = if ($ViaNginx) { $Rig.NginxPort } else { $Rig.AppPort }
    $response = Invoke-AedRigHttp -Uri "http://127.0.0.1:$port/api/health"
    if ($response.StatusCode -ne 200) { return [pscustomobject]@{ StatusCode = $response.StatusCode; version = $null } }
    $response.Body | ConvertFrom-Json | Add-Member -PassThru StatusCode 200
}
