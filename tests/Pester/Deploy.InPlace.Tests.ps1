#Requires -Version 7.4
# Invoke-ZeroDowntimeDeploy on an InPlace server (the seed's single checkout). Its build rewrites the live
# .next, so every failure from the build on is rolled back to .next.backup; records and history asserted.

Describe 'Invoke-ZeroDowntimeDeploy, InPlace layout' -Tag Integration {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        $rig = Start-AedRig -Layout InPlace
        $session = New-RigSession $rig
        $app = @{ Session = $session; AppPath = $rig.AppRoot; AppName = $rig.AppName; Layout = 'InPlace' }

        function Assert-Serving([string] $Version) {
            (Get-RigAppHealth $rig).version | Should -Be $Version
            (Get-RigAppHealth $rig -ViaNginx).version | Should -Be $Version
            Test-RigLocked $rig | Should -BeFalse
            @(Get-AedRigPm2Process -Rig $rig | Where-Object status -eq 'online').Count | Should -Be 2
        }
    }
    AfterAll {
        if ($session) { Remove-DeploySession $session }
        if ($rig) { Stop-AedRig -Rig $rig }
    }

    It 'Should deploy a new version in place and record it' {
        Publish-AedFixtureVersion -Rig $rig -Version '2' | Out-Null
        $record = Invoke-RigDeploy $rig $session InPlace -Extra @{ ContentPattern = '"version":"2"' }
        $DeployError | Should -BeNullOrEmpty
        $record.Outcome | Should -Be 'Succeeded'
        $record.Phases.Name | Should -Be @('Preflight', 'Lock', 'Backup', 'Fetch', 'Build', 'Validate', 'Reload', 'Health', 'CachePurge')
        Assert-Serving '2'
        (Get-DeployHistory @app -Last 1).Outcome | Should -Be 'Succeeded'
    }

    It 'Should roll back a failed build, whose next build wiped the live .next' {
        Publish-AedFixtureVersion -Rig $rig -Version 'ts' -Change TypeScriptError | Out-Null
        $record = Invoke-RigDeploy $rig $session InPlace
        $DeployError.FullyQualifiedErrorId | Should -Be 'DeploymentRolledBack,AedDeploy.Cmdlets.InvokeZeroDowntimeDeployCommand'
        $record.Outcome | Should -Be 'RolledBack'
        $record.FailedPhase | Should -Be 'Build'
        ($record.Phases | Where-Object Name -eq 'Rollback').Outcome | Should -Be 'Succeeded'
        Assert-Serving '2'
        Invoke-AedRigShell -Rig $rig -Command "git -C '$($rig.AppRoot)' rev-parse HEAD" | Should -Be $record.FromCommit
        (Get-DeployHistory @app -Last 1).Outcome | Should -Be 'RolledBack'
    }

    It 'Should fail before anything changes when the app is not in PM2' {
        $record = Invoke-RigDeploy $rig $session InPlace -Extra @{ AppName = 'not-there' }
        $record.Outcome | Should -Be 'Failed'
        $record.FailedPhase | Should -Be 'Preflight'
        $record.Reason | Should -Match "no app named 'not-there'"
        Assert-Serving '2'
    }
}
