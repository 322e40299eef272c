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
        $report.Checks.Name | Should -Be @('Connection', 'Layout', 'Free disk', 'PM2 app', 'PM2 folder', 'Rollback target', 'Consistency', 'Deploy lock')
        $report.LiveBuildId | Should -Be (Get-RigAppHealth $rig).buildId
        Get-ServerState | Should -Be $before
        Get-RigHistory $rig | Should -BeNullOrEmpty
    }

    It 'Should refuse -VerifyBuildId with -SkipBuildIdCheck before anything runs' {
        $failure = { Invoke-ZeroDowntimeDeploy @app -Ref main -VerifyBuildId -SkipBuildIdCheck -Confirm:$false } | Should -Throw -PassThru
        $failure.FullyQualifiedErrorId | Should -Be 'BuildIdCheckConflict,AedDeploy.Cmdlets.InvokeZeroDowntimeDeployCommand'
        $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
        Get-RigHistory $rig | Should -BeNullOrEmpty
    }

    It 'Should deploy a new version: built aside, boot-tested, switched, reloaded, healthy, cache purged, recorded' {
        $record = Invoke-RigDeploy $rig $session Release -Extra @{ ContentPattern = '"version":"2"' }
        $DeployError | Should -BeNullOrEmpty
        $record.Outcome | Should -Be 'Succeeded'
        $record.Phases.Name | Should -Be @('Preflight', 'Lock', 'Backup', 'Build', 'Validate', 'CarryStatic', 'BootTest', 'Switch', 'Reload', 'Health', 'CachePurge', 'Finalize')
        $record.Phases.Outcome | Sort-Object -Unique | Should -Be 'Succeeded'
        $record.HealthProof | Should -Be 'BuildIdHeader'
        ($record.Phases | Where-Object Name -eq 'Health').Detail | Should -Match '^healthy in [0-9.]+ s, build id from header$'
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
        (Get-DeployHistory @app -Last 1).HealthProof | Should -Be 'BuildIdHeader'
    }

    It 'Should have every answer of next start carry the worker''s build id: pages, API routes, static files' {
        # The rig's fixture loads AedDeploy's ready preload (node_args), which adds the header.
        $buildId = (Get-DeployHistory @app -Last 1).ToBuildId
        $page = Invoke-AedRigHttp -Uri "http://127.0.0.1:$($rig.AppPort)/"
        $chunk = [regex]::Match($page.Body, '/_next/static/[^"'' ]+\.js').Value
        $chunk | Should -Not -BeNullOrEmpty
        foreach ($path in '/', '/dynamic', '/api/health', $chunk) {
            $answer = Invoke-AedRigHttp -Uri "http://127.0.0.1:$($rig.AppPort)$path"
            $answer.StatusCode | Should -Be 200 -Because $path
            $answer.Headers['X-Build-Id'] | Should -Be $buildId -Because $path
        }
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

    It 'Should roll back when a server of the old build still answers the health URL, found by its build id' {
        # A second PM2 app running the old release under another name, as a migration can leave behind. PM2's
        # daemon is the cluster primary of every app it runs, so workers of both apps that listen on one port share
        # it: the health URL is answered by the new workers and by the old ones in turn. The old answers are 200 and
        # a valid health body; only their build id tells them apart.
        $oldRelease = Invoke-AedRigShell -Rig $rig -Command "readlink -f '$($rig.LivePath)'"
        $oldBuildId = (Get-RigAppHealth $rig).buildId
        Invoke-AedRigShell -Rig $rig -Command ("cd '$oldRelease' && PORT=$($rig.AppPort) pm2 start node_modules/next/dist/bin/next --name fixture-old -i 2 " +
            "--wait-ready --listen-timeout 10000 --node-args='-r $($rig.ReadyPreloadPath)' -- start --hostname 127.0.0.1") | Out-Null
        try {
            # pm2 start returns before next start listens: wait until an old-build worker answers on the app's port.
            # Each request on a new connection (curl, as the health probes), or the primary keeps handing it to one worker.
            $appPids = (Get-AedRigPm2Process -Rig $rig).pid
            $sample = "for i in 1 2 3 4 5 6 7 8; do curl -s http://127.0.0.1:$($rig.AppPort)/api/health; echo; done"
            $watch = [Diagnostics.Stopwatch]::StartNew()
            do { $strays = @(Invoke-AedRigShell -Rig $rig -Command $sample | ConvertFrom-Json | Where-Object pid -NotIn $appPids) }
            until ($strays -or $watch.Elapsed.TotalSeconds -gt 60)
            $strays | Should -Not -BeNullOrEmpty -Because 'the old-build app must share the port for this test to mean anything'

            Publish-AedFixtureVersion -Rig $rig -Version 'shadowed' | Out-Null
            $record = Invoke-RigDeploy $rig $session Release -Extra @{ SkipBootTest = $true; MaximumRetryCount = 2; RequiredSuccesses = 6 }
        }
        finally {
            Invoke-AedRigShell -Rig $rig -Command 'pm2 delete fixture-old' | Out-Null
        }
        $DeployError.FullyQualifiedErrorId | Should -Be 'DeploymentRolledBack,AedDeploy.Cmdlets.InvokeZeroDowntimeDeployCommand'
        $record.Outcome | Should -Be 'RolledBack'
        $record.FailedPhase | Should -Be 'Health'
        $record.ErrorId | Should -Be 'AppUnhealthy'
        $record.Reason | Should -Match ([regex]::Escape("the answer comes from build $oldBuildId (X-Build-Id), not $($record.ToBuildId)"))
        $record.HealthProof | Should -BeNullOrEmpty
        # The rollback proved the old build by its id, as the deploy tried to prove the new one.
        ($record.Phases | Where-Object Name -eq 'Rollback').Outcome | Should -Be 'Succeeded'
        Assert-OldVersionServing '2'
        (Get-RigAppHealth $rig).buildId | Should -Be $oldBuildId
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

    It 'Should stop at Preflight with Pm2AppElsewhere, build nothing and change nothing when PM2 runs a release instead of current' {
        # PM2 started from the resolved release folder: its pm_cwd is pinned there, so a reload after the switch
        # would start the old release again and a status check would pass.
        $pinned = Invoke-AedRigShell -Rig $rig -Command "readlink -f '$($rig.LivePath)'"
        Invoke-AedRigShell -Rig $rig -Command ("pm2 delete fixture && cd '$pinned' && PORT=$($rig.AppPort) pm2 start node_modules/next/dist/bin/next --name fixture -i 2 " +
            "--wait-ready --listen-timeout 10000 --node-args='-r $($rig.ReadyPreloadPath)' -- start --hostname 127.0.0.1") | Out-Null
        try {
            @(Get-AedRigPm2Process -Rig $rig | Where-Object { $_.status -eq 'online' -and $_.pm_cwd -eq $pinned }).Count | Should -Be 2
            Publish-AedFixtureVersion -Rig $rig -Version 'elsewhere' | Out-Null
            $before = Get-ServerState
            $record = Invoke-RigDeploy $rig $session Release

            $DeployError.FullyQualifiedErrorId | Should -Be 'DeploymentFailed,AedDeploy.Cmdlets.InvokeZeroDowntimeDeployCommand'
            $record.Outcome | Should -Be 'Failed'
            $record.FailedPhase | Should -Be 'Preflight'
            $record.ErrorId | Should -Be 'Pm2AppElsewhere'
            $record.Reason | Should -Match ([regex]::Escape("PM2 runs fixture from $pinned, not from $($rig.AppRoot)/current"))
            $record.Reason | Should -Match 'Initialize-DeployTarget'
            $record.Phases.Name | Should -Be @('Preflight')
            # Nothing built, nothing switched or reloaded: only the history has the failed deploy.
            (Get-ServerState) -replace '(?m)^\./\.aeddeploy/history\.jsonl .*$' | Should -Be ($before -replace '(?m)^\./\.aeddeploy/history\.jsonl .*$')
            (Get-RigHistory $rig)[-1].errorId | Should -Be 'Pm2AppElsewhere'
            (Get-RigAppHealth $rig).version | Should -Be '2'
        }
        finally {
            Invoke-AedRigShell -Rig $rig -Command "pm2 delete fixture && cd '$($rig.LivePath)' && pm2 start ecosystem.config.cjs" | Out-Null
        }
    }
}
