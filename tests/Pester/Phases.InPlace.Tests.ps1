#Requires -Version 7.4
# The phase cmdlets on an InPlace server: one checkout with .next and .next.backup, as the hand-written
# process kept it. Its in-place build rewrites the live .next (measured in the rehearsals); these tests
# prove each phase does its job and checks its result.

Describe 'Phase cmdlets, InPlace layout' -Tag Integration {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        $rig = Start-AedRig -Layout InPlace
        $session = New-RigSession $rig
        $app = @{ Session = $session; AppPath = $rig.AppRoot; AppName = $rig.AppName; Layout = 'InPlace' }
        $healthUrl = "http://127.0.0.1:$($rig.AppPort)/api/health"

        function Get-Head { Invoke-AedRigShell -Rig $rig -Command "git -C '$($rig.AppRoot)' rev-parse HEAD" }
        function Get-BackupBuildId { Invoke-AedRigShell -Rig $rig -Command "cat '$($rig.AppRoot)/.next.backup/BUILD_ID'" }
    }
    AfterAll {
        if ($session) { Remove-DeploySession $session }
        if ($rig) { Stop-AedRig -Rig $rig }
    }

    It 'Should copy the live .next to .next.backup and record its commit and build' {
        $script:backup = Backup-Build @app
        $live = Get-RigAppHealth $rig
        $backup.BuildId | Should -Be $live.buildId
        $backup.Commit | Should -Be $rig.Commit
        $backup.BackupPath | Should -Be "$($rig.AppRoot)/.next.backup"
        Get-BackupBuildId | Should -Be $live.buildId
        Invoke-AedRigShell -Rig $rig -Command "test -d '$($rig.AppRoot)/.next.backup/cache' && echo cache || echo none" | Should -Be 'none'
        Invoke-AedRigShell -Rig $rig -Command "git -C '$($rig.AppRoot)' status --porcelain" | Should -BeNullOrEmpty
    }

    It 'Should refuse to back up a build that is not complete, and keep the backup it has' {
        $marker = "$($rig.AppRoot)/.next/export-marker.json"
        Invoke-AedRigShell -Rig $rig -Command "mv '$marker' '$marker.aside'" | Out-Null
        try {
            { Backup-Build @app } | Should -Throw -ErrorId 'BuildIncomplete,AedDeploy.Cmdlets.BackupBuildCommand'
            Get-BackupBuildId | Should -Be $backup.BuildId
        }
        finally {
            Invoke-AedRigShell -Rig $rig -Command "mv '$marker.aside' '$marker'" | Out-Null
        }
    }

    It 'Should leave the checkout as it is when the ref does not exist' {
        { Invoke-RemoteBuild @app -Ref 'release/none' } | Should -Throw -ErrorId 'BuildRefNotFound,AedDeploy.Cmdlets.InvokeRemoteBuildCommand'
        Get-Head | Should -Be $rig.Commit
    }

    It 'Should deploy a new version through a pipeline of the phase cmdlets' {
        Publish-AedFixtureVersion -Rig $rig -Version '2' | Out-Null
        $health = Invoke-RemoteBuild @app -Ref main -Confirm:$false |
            Test-BuildArtifact -Strict |
            Invoke-Pm2Reload -Confirm:$false |
            Test-AppHealth -Url $healthUrl -ContentPattern '"version":"2"'
        $health.Healthy | Should -BeTrue
        (Get-RigAppHealth $rig).version | Should -Be '2'
        Get-Head | Should -Not -Be $rig.Commit
    }

    It 'Should skip the install when the lockfile did not change' {
        Publish-AedFixtureVersion -Rig $rig -Version '3' | Out-Null
        (Invoke-RemoteBuild @app -Ref main -Confirm:$false).InstallMode | Should -Be 'skipped'
    }

    It 'Should put the backup back: the old build, the old commit, reloaded and healthy' {
        $restored = $backup | Restore-Build -Url $healthUrl -ContentPattern '"version":"1"' -Confirm:$false
        $restored.Health.Healthy | Should -BeTrue
        Get-Head | Should -Be $backup.Commit
        (Get-RigAppHealth $rig).buildId | Should -Be $backup.BuildId
        Invoke-AedRigShell -Rig $rig -Command "ls -a '$($rig.AppRoot)' | grep -c aeddeploy- || true" | Should -Be '0'
    }

    It 'Should fail a TypeScript error, and come back with Restore-Build' {
        Publish-AedFixtureVersion -Rig $rig -Version 'ts' -Change TypeScriptError | Out-Null
        { Invoke-RemoteBuild @app -Ref main -Confirm:$false } | Should -Throw -ErrorId 'BuildFailed,AedDeploy.Cmdlets.InvokeRemoteBuildCommand'
        # next build wiped the live .next: the backup must go back.
        Test-BuildArtifact @app -Quiet | Should -BeFalse
        $backup | Restore-Build -Url $healthUrl -ContentPattern '"version":"1"' -Confirm:$false | Out-Null
        Test-BuildArtifact @app -Quiet | Should -BeTrue
        (Get-RigAppHealth $rig -ViaNginx).version | Should -Be '1'
    }

    It 'Should say when there is no backup to restore' {
        Invoke-AedRigShell -Rig $rig -Command "mv '$($rig.AppRoot)/.next.backup' '$($rig.AppRoot)/.next.backup.aside'" | Out-Null
        try {
            { $backup | Restore-Build -Confirm:$false } | Should -Throw -ErrorId 'BackupMissing,AedDeploy.Cmdlets.RestoreBuildCommand'
            (Get-RigAppHealth $rig).version | Should -Be '1'
        }
        finally {
            Invoke-AedRigShell -Rig $rig -Command "mv '$($rig.AppRoot)/.next.backup.aside' '$($rig.AppRoot)/.next.backup'" | Out-Null
        }
    }

    It 'Should fail Invoke-Pm2Reload when PM2 runs the app from another folder than the checkout' {
        # pm2 reload does not re-read cwd: workers of an app PM2 first started elsewhere come back there, serving
        # that folder's build whatever was built in the checkout.
        $elsewhere = "$($rig.AppRoot)-elsewhere"
        Invoke-AedRigShell -Rig $rig -Command "cp -al '$($rig.AppRoot)' '$elsewhere' && pm2 delete fixture && cd '$elsewhere' && pm2 start ecosystem.config.cjs" | Out-Null
        try {
            $null = Wait-AedRigHttp -Uri $healthUrl -TimeoutSec 60
            $err = { Invoke-Pm2Reload @app -Confirm:$false } | Should -Throw -ErrorId 'Pm2ReloadUnhealthy,AedDeploy.Cmdlets.InvokePm2ReloadCommand' -PassThru
            $err.Exception.Message | Should -Match ([regex]::Escape("has PM2 cwd $elsewhere, not the checkout $($rig.AppRoot)"))
            $err.Exception.Message | Should -Match ([regex]::Escape("runs in $elsewhere, not $($rig.AppRoot)"))
        }
        finally {
            Invoke-AedRigShell -Rig $rig -Command "pm2 delete fixture; cd '$($rig.AppRoot)' && pm2 start ecosystem.config.cjs && rm -rf '$elsewhere'" | Out-Null
        }
    }
}
