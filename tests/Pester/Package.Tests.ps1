#Requires -Version 7.4
# The package as users get it: build.ps1 -Task Package publishes the built layout to a local PSResourceGet
# repository; here it is installed with Install-PSResource into an empty module path, imported by name in
# a fresh pwsh, and used for a real deploy against the rig.

Describe 'The published package' -Tag Integration {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        $version = (Import-PowerShellDataFile $moduleManifest).ModuleVersion
        $package = Join-Path $PSScriptRoot "../../out/packages/AedDeploy.$version.nupkg"
        $rig = Start-AedRig -Layout Release
        Publish-AedFixtureVersion -Rig $rig -Version '2' | Out-Null
        # PSResourceGet keeps its repositories, and installs for the current user, under ~/.local/share: the
        # child runs with a home of this test's own, so the module path it installs into starts empty. The
        # folder must exist, or .NET reports no such folder and PSResourceGet writes to the current one.
        $testHome = (New-Item -ItemType Directory (Join-Path $TestDrive 'home')).FullName
        $dataHome = (New-Item -ItemType Directory -Force (Join-Path $testHome '.local/share')).FullName
        $childScript = @'
param($Module, $Packages, $Version, $DataHome, $HostName, $Port, $User, $Key, $KnownHosts, $AppPath, $AppName, $HealthUrl)
$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name AedDeployTest -Uri $Packages -Trusted
Install-PSResource -Name AedDeploy -Version $Version -Repository AedDeployTest -Scope CurrentUser -Quiet
$env:PSModulePath = Join-Path $DataHome 'powershell/Modules'
Import-Module AedDeploy
$module = Get-Module AedDeploy
$session = New-DeploySession -HostName $HostName -Port $Port -UserName $User -KeyFilePath $Key -KnownHostsPath $KnownHosts
$record = Invoke-ZeroDowntimeDeploy -Session $session -AppPath $AppPath -AppName $AppName -Ref main -HealthUrl $HealthUrl -ContentPattern '"version":"2"' -Confirm:$false
[pscustomobject]@{ ModuleBase = $module.ModuleBase; Version = "$($module.Version)"; Cmdlets = $module.ExportedCmdlets.Count; Outcome = "$($record.Outcome)" } | ConvertTo-Json -Compress
'@
    }
    AfterAll {
        if ($rig) { Stop-AedRig -Rig $rig }
    }

    It 'Should have been built by the Package task' {
        Test-Path $package | Should -BeTrue
    }

    It 'Should install with Install-PSResource into an empty module path and deploy for real' {
        $saved = $env:HOME, $env:XDG_DATA_HOME
        $env:HOME = $testHome
        $env:XDG_DATA_HOME = $null
        try {
            $output = Invoke-FreshPwsh -Script $childScript -ArgumentList @(
                (Split-Path $package), $version, $dataHome, $rig.HostName, $rig.SshPort, $rig.UserName, $rig.KeyPath, $rig.KnownHostsPath,
                $rig.AppRoot, $rig.AppName, "http://127.0.0.1:$($rig.AppPort)/api/health")
        }
        finally {
            $env:HOME, $env:XDG_DATA_HOME = $saved
        }
        $output = @($output)
        $output[-1] | Should -Match '^\{' -Because ($output -join "`n")
        $result = $output[-1] | ConvertFrom-Json
        $result.ModuleBase | Should -BeLike "$dataHome/powershell/Modules/AedDeploy/*"
        $result.Version | Should -Be $version
        $result.Cmdlets | Should -Be (Import-PowerShellDataFile $moduleManifest).CmdletsToExport.Count
        $result.Outcome | Should -Be 'Succeeded'
        (Get-RigAppHealth $rig).version | Should -Be '2'
    }
}
