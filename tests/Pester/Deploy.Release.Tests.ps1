#Requires -Version 7.4
# Invoke-ZeroDowntimeDeploy on a Release-layout server: the good deploy, a failure in each phase (each
# ending with the old version serving), the lock, Ctrl+C, -WhatIf; records and history asserted.

Describe 'Invoke-ZeroDowntimeDeploy, Release layout' -Tag Integration {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        $rig = Start-AedRig -Layout Release
        $session = New-RigSession $rig
        $app = @{ Session = $session; AppPath = $rig.AppRoot; AppName = $rig.AppName; Layout = 'Release' }

        function Assert-OldVersionServing([string] $Version) {
            (Get-RigAppHealth $rig).version | Should -Be $Version
            (Get-RigAppHealth $rig -ViaNginx).version | Should -Be $Version
            Test-RigLocked $rig | Should -BeFalse
            @(Get-AedRigPm2Process -Rig $rig | Where-Object status -eq 'online').Count | Should -Be 2
        }

        function Get-ServerState {
            # Everything a deploy could change: files (not the build cache), links, PM2 processes.
            $files = Invoke-AedRigShell -Rig $rig -Command "cd '$($rig.AppRoot)' && find . -path '*/node_modules' -prune -o -path '*/.next/cache' -prune -o -printf '%p %y %s %T@ %l\n' | sort"
            $pm2 = Get-AedRigPm2Process -Rig $rig | ForEach-Object { "$($_.pm_id) $($_.status) $($_.pid) $($_.restart_time) $($_.pm_cwd)" }
            ($files + $pm2) -join "`n"
        }
    }
    AfterAll {
        if ($session) { Remove-DeploySession $session }
        if ($rig) { Stop-AedRig -Rig $rig }
    }

    It 'Should change nothing under -WhatIf, and report the preflight' {
        Publish-AedFixtureVersion -Rig $rig -Version '2' | Out-Null
        $before = Get-ServerState
        $report = Invoke-ZeroDowntimeDeploy @app -Ref main -HealthUrl "http://127.0.0.1:$($rig.AppPort)/api/health" -WhatIf
        $report.CanDeploy | Should -BeTrue
        $report.Checks.Name | Should -Be @('Connection', 'Layout', 'Free disk', 'PM2 app', 'Rollback target', 'Consistency', 'Deploy lock')
        $report.LiveBuildId | Should -Be (Get-RigAppHealth $rig).buildId
        Get-ServerState | Should -Be $before
        Get-RigHistory $rig | Should -BeNullOrEmpty
    }

    It 'Should deploy a new version: built aside, boot-tested, switched, reloaded, healthy, cache purged, recorded' {
        $record = Invoke-RigDeploy $rig $session Release -Extra @{ ContentPattern = '"version":"2"' }
        $DeployError | Should -BeNullOrEmpty
        $record.Outcome | Should -Be 'Succeeded'
        $record.Phases.Name | Should -Be @('Preflight', 'Lock', 'Backup', 'Build', 'Validate', 'BootTest', 'Switch', 'Reload', 'Health', 'CachePurge', 'Finalize')
        $record.Phases.Outcome | Sort-Object -Unique | Should -Be 'Succeeded'
        $record.FromCommit | Should -Be $rig.Commit
        $record.ToBuildId | Should -Be (Get-RigAppHealth $rig).buildId
        (Get-RigAppHealth $rig -ViaNginx).version | Should -Be '2'
        $live = Get-Release @app -Live
        $live.Id | Should -Be $record.ToRelease
        $live.Status | Should -Be 'Verified'
        $live.IsRollbackTarget | Should -BeTrue
        Test-RigLocked $rig | Should -BeFalse
        $history = @(Get-RigHistory $rig)
        $history[-1].id | Should -Be $record.Id
        $history[-1].outcome | Should -Be 'Succeeded'
        (Get-DeployHistory @app -Last 1).Id | Should -Be $record.Id
    }

    It 'Should fail a build error before touching anything live' {
        Publish-AedFixtureVersion -Rig $rig -Version 'ts' -Change TypeScriptError | Out-Null
        $record = Invoke-RigDeploy $rig $session Release
        $DeployError.FullyQualifiedErrorId | Should -Be 'DeploymentFailed,AedDeploy.Cmdlets.InvokeZeroDowntimeDeployCommand'
        $record.Outcome | Should -Be 'Failed'
        $record.FailedPhase | Should -Be 'Build'
        $record.ErrorId | Should -Be 'BuildFailed'
        $record.Phases.Name | Should -Not -Contain 'Rollback'
        Assert-OldVersionServing '2'
        (Get-RigHistory $rig)[-1].outcome | Should -Be 'Failed'
    }

    It 'Should stop a release that crashes at boot in the boot test, before the live workers' {
        Publish-AedFixtureVersion -Rig $rig -Version 'crash' -Change CrashAtBoot | Out-Null
        $restarts = (Get-AedRigPm2Process -Rig $rig).restart_time
        $record = Invoke-RigDeploy $rig $session Release
        $record.Outcome | Should -Be 'Failed'
        $record.FailedPhase | Should -Be 'BootTest'
        $record.ErrorId | Should -Be 'BootTestFailed'
        $record.Reason | Should -Match 'exited at boot'
        (Get-AedRigPm2Process -Rig $rig).restart_time | Should -Be $restarts
        Assert-OldVersionServing '2'
        (Get-Release @app | Where-Object Id -eq $record.ToRelease).Status | Should -Be 'Failed'
    }

    It 'Should roll back a broken ecosystem file that fails the reload' {
        Publish-AedFixtureVersion -Rig $rig -Version 'eco' -Change BrokenEcosystem | Out-Null
        $record = Invoke-RigDeploy $rig $session Release -Extra @{ SkipBootTest = $true }
        $DeployError.FullyQualifiedErrorId | Should -Be 'DeploymentRolledBack,AedDeploy.Cmdlets.InvokeZeroDowntimeDeployCommand'
        $record.Outcome | Should -Be 'RolledBack'
        $record.FailedPhase | Should -Be 'Reload'
        $record.ErrorId | Should -Be 'Pm2ReloadFailed'
        ($record.Phases | Where-Object Name -eq 'Rollback').Outcome | Should -Be 'Succeeded'
        Assert-OldVersionServing '2'
        (Get-Release @app -Live).Id | Should -Be $record.FromRelease
    }

    It 'Should roll back an app that answers 500 while PM2 says online' {
        Publish-AedFixtureVersion -Rig $rig -Version '500' -Change Answer500 | Out-Null
        $record = Invoke-RigDeploy $rig $session Release -Extra @{ SkipBootTest = $true; MaximumRetryCount = 1 }
        $record.Outcome | Should -Be 'RolledBack'
        $record.FailedPhase | Should -Be 'Health'
        $record.ErrorId | Should -Be 'AppUnhealthy'
        Assert-OldVersionServing '2'
    }

    It 'Should roll back when the cache purge fails and -StrictCachePurge is set' {
        Publish-AedFixtureVersion -Rig $rig -Version '3' | Out-Null
        $record = Invoke-RigDeploy $rig $session Release -Extra @{ StrictCachePurge = $true; NginxTestCommand = 'echo broken config >&2; exit 1' }
        $record.Outcome | Should -Be 'RolledBack'
        $record.FailedPhase | Should -Be 'CachePurge'
        $record.ErrorId | Should -Be 'NginxCacheClearFailed'
        Assert-OldVersionServing '2'
    }

    It 'Should refuse a second deploy while the lock is held, and say who holds it' {
        $owner = '{"deployId":"other-deploy","user":"ci@runner","ref":"main","startedAt":"2026-11-26T00:00:00Z"}'
        Invoke-AedRigShell -Rig $rig -Command "mkdir -p '$($rig.AppRoot)/.aeddeploy/lock' && echo '$owner' > '$($rig.AppRoot)/.aeddeploy/lock/owner.json' && echo other-deploy > '$($rig.AppRoot)/.aeddeploy/lock/id'" | Out-Null
        $record = Invoke-RigDeploy $rig $session Release -Extra @{ LockWaitTimeout = 2 }
        $record.Outcome | Should -Be 'Failed'
        $record.FailedPhase | Should -Be 'Lock'
        $record.ErrorId | Should -Be 'DeployLocked'
        $record.Reason | Should -Match 'ci@runner'
        # The other deploy's lock is left alone.
        Test-RigLocked $rig | Should -BeTrue
        (Get-RigAppHealth $rig).version | Should -Be '2'
    }

    It 'Should release a dead deploy''s lock with Unlock-Deploy, and write it to the history' {
        $released = Unlock-Deploy @app -Reason 'the CI runner died' -Confirm:$false
        $released.DeployId | Should -Be 'other-deploy'
        Test-RigLocked $rig | Should -BeFalse
        $entry = (Get-DeployHistory @app -Last 1)
        $entry.Kind | Should -Be 'Unlock'
        $entry.Reason | Should -Match 'the CI runner died'
    }

    It 'Should leave the live app serving, the lock released and a history entry on Ctrl+C during the <Phase>' -ForEach @(
        @{ Phase = 'Build' }
        @{ Phase = 'Reload' }
    ) {
        Publish-AedFixtureVersion -Rig $rig -Version "cancel$Phase" | Out-Null
        $ps = New-ModulePowerShell
        $null = $ps.AddCommand('Invoke-ZeroDowntimeDeploy').AddParameters(@{
                Session = $session; AppPath = $rig.AppRoot; AppName = $rig.AppName; Ref = 'main'; SkipBootTest = $true
                HealthUrl = "http://127.0.0.1:$($rig.AppPort)/api/health"; Confirm = $false; Verbose = $true
            })
        $async = $ps.BeginInvoke()
        $watch = [Diagnostics.Stopwatch]::StartNew()
        while (-not ($ps.Streams.Verbose | Where-Object Message -eq "Phase $Phase.") -and $watch.Elapsed.TotalSeconds -lt 120) { Start-Sleep -Milliseconds 100 }
        Start-Sleep -Milliseconds 300
        $ps.Stop()
        $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        $ps.Dispose()
        Assert-OldVersionServing '2'
        $last = (Get-RigHistory $rig)[-1]
        $last.errorId | Should -Be 'DeployCancelled'
        $last.failedPhase | Should -Be $Phase
        $last.outcome | Should -Be $(if ($Phase -eq 'Reload') { 'RolledBack' } else { 'Failed' })
        (Get-Release @app -Live).Status | Should -Be 'Verified'
    }
}
