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

function Invoke-RigDeploy {
    # Runs Invoke-ZeroDowntimeDeploy against the rig and returns its record whatever the outcome; the error
    # of a deploy that did not succeed is left in $script:DeployError for the test to assert.
    param($Rig, $Session, [string] $Layout, [string] $Ref = 'main', [hashtable] $Extra = @{})
    $script:DeployError = $null
    $parameters = @{
        Session            = $Session
        AppPath            = $Rig.AppRoot
        AppName            = $Rig.AppName
        Layout             = $Layout
        Ref                = $Ref
        HealthUrl          = "http://127.0.0.1:$($Rig.AppPort)/api/health"
        CachePath          = $Rig.NginxCachePath
        NginxTestCommand   = $Rig.NginxTestCommand
        NginxReloadCommand = $Rig.NginxReloadCommand
        RetryIntervalSec   = 1
        Confirm            = $false
    }
    foreach ($key in $Extra.Keys) { $parameters[$key] = $Extra[$key] }
    # A failed deploy writes its record, then throws with the record as the error's target.
    $record = $null
    try {
        $record = Invoke-ZeroDowntimeDeploy @parameters
    }
    catch {
        $script:DeployError = $_
        $record = $_.TargetObject
    }
    $record
}

function Get-RigHistory($Rig) {
    $path = "$($Rig.AppRoot)/.aeddeploy/history.jsonl"
    Invoke-AedRigShell -Rig $Rig -Command "cat '$path' 2>/dev/null || true" | Where-Object { $_ } | ForEach-Object { $_ | ConvertFrom-Json }
}

function Test-RigLocked($Rig) {
    (Invoke-AedRigShell -Rig $Rig -Command "test -d '$($Rig.AppRoot)/.aeddeploy/lock' && echo locked || echo free") -eq 'locked'
}

function Invoke-FreshPwsh {
    # Runs a script in a new PowerShell process (this same PowerShell) and returns its output lines; the
    # built module's manifest is passed as the script's first argument.
    param([Parameter(Mandatory)] [string] $Script, [string[]] $ArgumentList = @())
    $file = Join-Path ([IO.Path]::GetTempPath()) "aeddeploy-test-$([guid]::NewGuid().ToString('N')).ps1"
    Set-Content -Path $file -Value $Script
    try {
        $process = [Environment]::ProcessPath
        [string[]] $prefix = if ([IO.Path]::GetFileNameWithoutExtension($process) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' } else { @() }
        & $process @prefix -NoProfile -NonInteractive -File $file $moduleManifest @ArgumentList 2>&1 | ForEach-Object { "$_" }
    }
    finally {
        Remove-Item -Force $file
    }
}
