#Requires -Version 7.4
# The module's SSH.NET, Polly and their dependencies load into a context of their own: another version of
# SSH.NET or of Microsoft.Extensions.Logging.Abstractions in the same process, loaded before or after
# AedDeploy (as another SSH module would), clashes with nothing. Each case runs in a fresh process.

BeforeDiscovery {
    $orders = @(
        @{ Order = 'before' }
        @{ Order = 'after' }
    )
}

Describe 'Dependency isolation' -Tag Integration {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        $rig = Start-AedRig -NoPm2 -NoNginx
        $logging = Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages/microsoft.extensions.logging.abstractions/9.0.0/lib/net8.0/Microsoft.Extensions.Logging.Abstractions.dll'
        $childScript = @'
param($Module, $Order, $Logging, $HostName, $Port, $User, $Key, $KnownHosts)
$ErrorActionPreference = 'Stop'
function Import-OtherModule {
    # No other SSH.NET version fit to load can be had here, so a stand-in carries the clash: an assembly
    # named Renci.SshNet with another version in the default context, as another module would bring.
    $name = [Reflection.AssemblyName]::new('Renci.SshNet')
    $name.Version = [version]'2020.1.0.0'
    $assembly = [Reflection.Emit.AssemblyBuilder]::DefineDynamicAssembly($name, [Reflection.Emit.AssemblyBuilderAccess]::Run)
    $null = $assembly.DefineDynamicModule('Renci.SshNet').DefineType('Renci.SshNet.Origin', 'Public, Class').CreateType()
    Add-Type -Path $Logging
}
function Test-AedDeploy {
    $s = New-DeploySession -HostName $HostName -Port $Port -UserName $User -KeyFilePath $Key -KnownHostsPath $KnownHosts
    $r = Invoke-DeployCommand -Session $s -Command 'echo over-ssh'
    Remove-DeploySession $s
    $r.Output.Trim()
}
if ($Order -eq 'before') { Import-OtherModule }
Import-Module $Module
$first = Test-AedDeploy
if ($Order -eq 'after') { Import-OtherModule }
$second = Test-AedDeploy
$loaded = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -in 'Renci.SshNet', 'Microsoft.Extensions.Logging.Abstractions' } |
    ForEach-Object { '{0} {1} {2}' -f $_.GetName().Name, $_.GetName().Version, [Runtime.Loader.AssemblyLoadContext]::GetLoadContext($_).Name }
[pscustomobject]@{ First = $first; Second = $second; Other = [Renci.SshNet.Origin].Assembly.GetName().Version.ToString(); Loaded = @($loaded | Sort-Object) } | ConvertTo-Json -Compress
'@
    }
    AfterAll {
        if ($rig) { Stop-AedRig -Rig $rig }
    }

    It 'Should work with another SSH.NET and logging abstractions loaded <Order> it' -ForEach $orders {
        $output = Invoke-FreshPwsh -Script $childScript -ArgumentList @(
            $Order, $logging, $rig.HostName, $rig.SshPort, $rig.UserName, $rig.KeyPath, $rig.KnownHostsPath)
        $result = ($output | Select-Object -Last 1) | ConvertFrom-Json
        $result.First | Should -Be 'over-ssh'
        $result.Second | Should -Be 'over-ssh'
        $result.Other | Should -Be '2020.1.0.0'
        $result.Loaded | Should -Contain 'Renci.SshNet 2026.0.0.1 AedDeploy.Dependencies'
        $result.Loaded | Should -Contain 'Renci.SshNet 2020.1.0.0 Default'
        $result.Loaded | Should -Contain 'Microsoft.Extensions.Logging.Abstractions 9.0.0.0 Default'
        $result.Loaded | Should -Contain 'Microsoft.Extensions.Logging.Abstractions 8.0.0.0 AedDeploy.Dependencies'
    }
}
