#Requires -Version 7.4
# Tab completion: -AppName from the PM2 apps of the session's target, -Environment from the deploy.psd1.

Describe 'Tab completion' -Tag Integration {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        $rig = Start-AedRig -Layout Release -NoNginx
        # TabExpansion2 reads variables from the global scope.
        $global:AedCompletionSession = New-RigSession $rig
        $configuration = Join-Path $TestDrive 'deploy.psd1'
        Set-Content $configuration "@{ Environments = @{ staging = @{ AppName = 'shop' }; production = @{ AppName = 'shop' } } }"

        function Get-Completion([string] $Line) {
            (TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches.CompletionText
        }
    }
    AfterAll {
        if ($global:AedCompletionSession) { Remove-DeploySession $global:AedCompletionSession }
        Remove-Variable -Scope Global -Name AedCompletionSession -ErrorAction SilentlyContinue
        if ($rig) { Stop-AedRig -Rig $rig }
    }

    It 'Should complete -AppName with the apps PM2 runs on the target' {
        Get-Completion 'Get-Release -Session $AedCompletionSession -AppPath /srv -AppName fi' | Should -Be @($rig.AppName)
        Get-Completion 'Invoke-ZeroDowntimeDeploy -Session $AedCompletionSession -AppName ' | Should -Be @($rig.AppName)
    }

    It 'Should offer nothing for -AppName without a session' {
        Get-Completion 'Get-Release -AppName fi' | Should -BeNullOrEmpty
    }

    It 'Should complete -Environment from the configuration file' {
        Get-Completion "Invoke-ZeroDowntimeDeploy -ConfigurationPath '$configuration' -Environment " | Should -Be @('production', 'staging')
        Get-Completion "Invoke-ZeroDowntimeDeploy -ConfigurationPath '$configuration' -Environment st" | Should -Be @('staging')
    }
}
