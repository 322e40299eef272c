#Requires -Version 7.4
# The phase cmdlets on a Release-layout server (releases/<id>, current, shared, .aeddeploy), against
# the rig: real sshd, PM2 cluster, the Next.js fixture, nginx, a bare git origin.

Describe 'Phase cmdlets, Release layout' -Tag Integration {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        $rig = Start-AedRig -Layout Release
        $session = New-RigSession $rig
        $app = @{ Session = $session; AppPath = $rig.AppRoot; AppName = $rig.AppName; Layout = 'Release' }
        $healthUrl = "http://127.0.0.1:$($rig.AppPort)/api/health"
        $firstRelease = (Get-Release @app -Live).Id

        function Get-RollbackTarget { Invoke-AedRigShell -Rig $rig -Command "cat '$($rig.AppRoot)/.aeddeploy/rollback-target' 2>/dev/null || true" }
        function Get-LiveLink { Invoke-AedRigShell -Rig $rig -Command "readlink '$($rig.AppRoot)/current'" }
    }
    AfterAll {
        if ($session) { Remove-DeploySession $session }
        if ($rig) { Stop-AedRig -Rig $rig }
    }

    Context 'Reading the server' {
        It 'Should list the live release' {
            $live = Get-Release @app -Live
            $live.Id | Should -Be $firstRelease
            $live.IsLive | Should -BeTrue
            $live.BuildId | Should -Be (Get-RigAppHealth $rig).buildId
            $live.Commit | Should -Be $rig.Commit
        }

        It 'Should find the live build complete' {
            $report = Test-BuildArtifact @app
            $report.IsComplete | Should -BeTrue
            $report.BuildId | Should -Be (Get-RigAppHealth $rig).buildId
            $report.Checks.Name | Should -Contain 'build finished'
            Test-BuildArtifact @app -Quiet | Should -BeTrue
        }

        It 'Should find a half-written build incomplete and say what is missing' {
            $half = "$($rig.Home)/half-build"
            Invoke-AedRigShell -Rig $rig -Command "rm -rf '$half' && cp -a '$($rig.AppRoot)/current/.' '$half' && rm -f '$half/.next/export-marker.json' '$half/.next/prerender-manifest.json'" | Out-Null
            $report = Test-BuildArtifact @app -Path $half
            $report.IsComplete | Should -BeFalse
            $report.Failures.Name | Should -Be @('prerender-manifest.json', 'build finished')
            { Test-BuildArtifact @app -Path $half -Strict -ErrorAction Stop } | Should -Throw -ErrorId 'BuildIncomplete,AedDeploy.Cmdlets.TestBuildArtifactCommand'
        }

        It 'Should find a build without its dependencies incomplete' {
            $bare = "$($rig.Home)/no-modules"
            Invoke-AedRigShell -Rig $rig -Command "rm -rf '$bare' && mkdir -p '$bare' && cp -a '$($rig.AppRoot)/current/.next' '$bare/'" | Out-Null
            (Test-BuildArtifact @app -Path $bare).Failures.Name | Should -Be @('node_modules/next')
        }

        It 'Should refuse the InPlace-only and Release-only mismatches with clear errors' {
            { Switch-Release @app -Layout InPlace -ReleaseId $firstRelease -Confirm:$false } | Should -Throw -ErrorId 'SwitchReleaseRequiresReleaseLayout,AedDeploy.Cmdlets.SwitchReleaseCommand'
            { Get-Release @app -Layout InPlace } | Should -Throw -ErrorId 'GetReleaseRequiresReleaseLayout,AedDeploy.Cmdlets.GetReleaseCommand'
        }

        It 'Should reject an app name that is not a name' {
            { Get-Release -Session $session -AppPath $rig.AppRoot -AppName 'fixture; rm -rf /' } | Should -Throw -ErrorId 'InvalidAppName,AedDeploy.Cmdlets.GetReleaseCommand'
        }
    }

    Context 'Backup-Build' {
        It 'Should change nothing under -WhatIf' {
            Backup-Build @app -WhatIf | Should -BeNullOrEmpty
            Get-RollbackTarget | Should -BeNullOrEmpty
        }

        It 'Should record the live release as the rollback target' {
            $script:backup = Backup-Build @app
            $backup.ReleaseId | Should -Be $firstRelease
            $backup.Commit | Should -Be $rig.Commit
            $backup.BuildId | Should -Be (Get-RigAppHealth $rig).buildId
            Get-RollbackTarget | Should -Be $firstRelease
            (Get-Release @app | Where-Object IsRollbackTarget).Id | Should -Be $firstRelease
        }
    }

    Context 'Invoke-RemoteBuild failures leave the live release alone' {
        It 'Should refuse a hostile ref before anything runs' {
            { Invoke-RemoteBuild @app -Ref 'main; touch /tmp/aed-pwned' -Confirm:$false } | Should -Throw -ErrorId 'InvalidGitRef,AedDeploy.Cmdlets.InvokeRemoteBuildCommand'
        }

        It 'Should say a missing ref is missing and create no release' {
            $before = @(Get-Release @app).Count
            $err = { Invoke-RemoteBuild @app -Ref 'no-such-branch' } | Should -Throw -ErrorId 'BuildRefNotFound,AedDeploy.Cmdlets.InvokeRemoteBuildCommand' -PassThru
            $err.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            @(Get-Release @app).Count | Should -Be $before
            Get-LiveLink | Should -BeLike "*/$firstRelease"
        }

        It 'Should fail a TypeScript error with the compiler output and keep the failed release aside' {
            Publish-AedFixtureVersion -Rig $rig -Version 'ts' -Change TypeScriptError | Out-Null
            $err = { Invoke-RemoteBuild @app -Ref main } | Should -Throw -ErrorId 'BuildFailed,AedDeploy.Cmdlets.InvokeRemoteBuildCommand' -PassThru
            $err.Exception.Message | Should -Match 'Failed to type check'
            $err.Exception.Message | Should -Match 'type-error\.ts'
            $failed = Get-Release @app | Where-Object Status -eq 'Failed'
            $failed.Reason | Should -BeLike "BuildFailed: 'npm run build' failed in *"
            $failed.IsLive | Should -BeFalse
            (Get-RigAppHealth $rig).version | Should -Be '1'
        }

        It 'Should fail an npm ci that cannot resolve a dependency' {
            Publish-AedFixtureVersion -Rig $rig -Version 'dep' -Change BadDependency | Out-Null
            { Invoke-RemoteBuild @app -Ref main } | Should -Throw -ErrorId 'DependencyInstallFailed,AedDeploy.Cmdlets.InvokeRemoteBuildCommand'
            (Get-RigAppHealth $rig).version | Should -Be '1'
            Get-LiveLink | Should -BeLike "*/$firstRelease"
        }
    }

    Context 'A pipeline of the phase cmdlets' {
        It 'Should deploy a new version end to end, written by hand' {
            Publish-AedFixtureVersion -Rig $rig -Version '2' | Out-Null
            $health = Invoke-RemoteBuild @app -Ref main |
                Test-BuildArtifact -Strict |
                Switch-Release -Confirm:$false |
                Invoke-Pm2Reload -Confirm:$false |
                Test-AppHealth -Url $healthUrl -ContentPattern '"version":"2"'
            $health.Healthy | Should -BeTrue
            $health.Probes[0].ConsecutiveSuccesses | Should -Be 3
            Clear-NginxCache -Session $session -CachePath $rig.NginxCachePath -TestCommand $rig.NginxTestCommand -ReloadCommand $rig.NginxReloadCommand -Confirm:$false |
                Select-Object -ExpandProperty Succeeded | Should -BeTrue

            $served = Get-RigAppHealth $rig -ViaNginx
            $served.version | Should -Be '2'
            $live = Get-Release @app -Live
            $live.Id | Should -Not -Be $firstRelease
            $live.Status | Should -Be 'Built'
            $served.buildId | Should -Be $live.BuildId
            foreach ($process in Get-AedRigPm2Process -Rig $rig) {
                $process.status | Should -Be 'online'
                $process.pm_cwd | Should -Be "$($rig.AppRoot)/current"
                Invoke-AedRigShell -Rig $rig -Command "readlink -f /proc/$($process.pid)/cwd" | Should -Be $live.Path
            }
        }

        It 'Should seed node_modules from the live release when the lockfile is unchanged' {
            Publish-AedFixtureVersion -Rig $rig -Version '2b' | Out-Null
            $build = Invoke-RemoteBuild @app -Ref main -Confirm:$false
            $build.InstallMode | Should -Be 'install'
            $build.PreviousReleaseId | Should -Be (Get-Release @app -Live).Id
        }

        It 'Should start the build with a copy of the live build cache, at low CPU priority, and clean with -SkipBuildCache' {
            # The build command only reports how it runs: the cache is copied before it, whatever it is.
            $lines = Invoke-RemoteBuild @app -Ref main -BuildCommand 'echo "priority $(nice) $(cat /proc/self/autogroup)"' -Confirm:$false -Verbose 4>&1
            $build = $lines | Where-Object { $_.GetType().FullName -eq 'AedDeploy.BuildResult' }
            $build.BuildCache | Should -BeIn 'reflink', 'copy'
            $build.BuildCacheBytes | Should -BeGreaterThan 1MB
            $live = (Get-Release @app -Live).Path
            $sums = Invoke-AedRigShell -Rig $rig -Command (
                "cd '$live/.next/cache' && find . -type f ! -path './images/*' -exec md5sum {} + | sort | md5sum; " +
                "cd '$($build.ReleasePath)/.next/cache' && find . -type f -exec md5sum {} + | sort | md5sum")
            @($sums | Select-Object -Unique) | Should -HaveCount 1
            # Niced within its session, and the session's autogroup too: the kernel shares the CPU between sessions first.
            $said = $lines | Where-Object { $_ -is [Management.Automation.VerboseRecord] } | ForEach-Object Message |
                Select-String -Pattern 'priority (\d+) /autogroup-\d+ nice (\d+)' | Select-Object -First 1
            $said | Should -Not -BeNullOrEmpty
            $said.Matches[0].Groups[1].Value | Should -Be '10'
            $said.Matches[0].Groups[2].Value | Should -Be '10'

            $clean = Invoke-RemoteBuild @app -Ref main -BuildCommand 'true' -SkipBuildCache -Confirm:$false
            $clean.BuildCache | Should -Be 'none'
            Invoke-AedRigShell -Rig $rig -Command "test -e '$($clean.ReleasePath)/.next/cache' && echo cached || echo cold" | Should -Be 'cold'
        }

        It 'Should put the backup back, with health proven, and do no harm the second time' {
            $restored = $backup | Restore-Build -Url $healthUrl -ContentPattern '"version":"1"' -Confirm:$false
            $restored.Health.Healthy | Should -BeTrue
            (Get-RigAppHealth $rig).version | Should -Be '1'
            Get-LiveLink | Should -BeLike "*/$firstRelease"
            $again = $backup | Restore-Build -Url $healthUrl -ContentPattern '"version":"1"' -Confirm:$false
            $again.Health.Healthy | Should -BeTrue
            (Get-RigAppHealth $rig).version | Should -Be '1'
        }
    }

    Context 'Reload and health failures' {
        It 'Should fail the reload of a broken ecosystem file, not trust PM2' {
            Publish-AedFixtureVersion -Rig $rig -Version 'eco' -Change BrokenEcosystem | Out-Null
            $build = Invoke-RemoteBuild @app -Ref main -Confirm:$false
            $build | Switch-Release -Confirm:$false | Out-Null
            { Invoke-Pm2Reload @app -Confirm:$false } | Should -Throw -ErrorId 'Pm2ReloadFailed,AedDeploy.Cmdlets.InvokePm2ReloadCommand'
            $backup | Restore-Build -Url $healthUrl -Confirm:$false | Out-Null
            (Get-RigAppHealth $rig).version | Should -Be '1'
        }

        It 'Should find an app that answers 500 unhealthy although PM2 shows it online' {
            Publish-AedFixtureVersion -Rig $rig -Version '500' -Change Answer500 | Out-Null
            $reload = Invoke-RemoteBuild @app -Ref main -Confirm:$false | Switch-Release -Confirm:$false | Invoke-Pm2Reload -Confirm:$false
            $reload.After.Status | Should -Be @('online', 'online')
            $report = Test-AppHealth @app -Url $healthUrl -MaximumRetryCount 1 -RetryIntervalSec 0.2 -ErrorVariable unhealthy -ErrorAction SilentlyContinue
            $report.Healthy | Should -BeFalse
            $report.Probes[0].StatusCode | Should -Be 500
            $report.Probes[0].Attempts | Should -Be 2
            $unhealthy[0].FullyQualifiedErrorId | Should -Be 'AppUnhealthy,AedDeploy.Cmdlets.TestAppHealthCommand'
            Test-AppHealth @app -Url $healthUrl -MaximumRetryCount 0 -Quiet -ErrorAction SilentlyContinue | Should -BeFalse
            $backup | Restore-Build -Url $healthUrl -Confirm:$false | Out-Null
            (Get-RigAppHealth $rig).version | Should -Be '1'
        }

        It 'Should fail a health endpoint that does not answer in time, probed from the <_>' -ForEach 'Server', 'Client' {
            # A listener that accepts connections and never answers.
            $silent = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
            $silent.Start()
            try {
                $url = "http://127.0.0.1:$($silent.LocalEndpoint.Port)/api/health"
                $report = Test-AppHealth @app -Url $url -Source $_ -TimeoutSec 0.5 -MaximumRetryCount 1 -RetryIntervalSec 0 -SkipPm2 -ErrorAction SilentlyContinue
                $report.Healthy | Should -BeFalse
                $report.Probes[0].Attempts | Should -Be 2
                $report.Probes[0].Error | Should -Match 'no answer within 0.5 s'
            }
            finally { $silent.Stop() }
        }

        It 'Should warn about an env key removed from the ecosystem file that PM2 keeps' {
            Publish-AedFixtureVersion -Rig $rig -Version 'env' -Change RemoveEnvKey | Out-Null
            $reload = Invoke-RemoteBuild @app -Ref main -Confirm:$false | Switch-Release -Confirm:$false |
                Invoke-Pm2Reload -Confirm:$false -WarningVariable warned -WarningAction SilentlyContinue
            $reload.StaleEnvironmentKeys | Should -Be @('FEATURE_FLAG')
            ($warned -join "`n") | Should -Match 'FEATURE_FLAG'
            (Get-RigAppHealth $rig).featureFlag | Should -Be 'on'
            $backup | Restore-Build -Url $healthUrl -Confirm:$false | Out-Null
        }

        It 'Should fail the reload of an app that exits at boot, and recover from the crash loop' {
            Publish-AedFixtureVersion -Rig $rig -Version 'crash' -Change CrashAtBoot | Out-Null
            Invoke-RemoteBuild @app -Ref main -Confirm:$false | Switch-Release -Confirm:$false | Out-Null
            $err = { Invoke-Pm2Reload @app -Confirm:$false } | Should -Throw -ErrorId 'Pm2ReloadUnhealthy,AedDeploy.Cmdlets.InvokePm2ReloadCommand' -PassThru
            $err.Exception.Message | Should -Match 'launching|errored|restarted \d+ times'
            # PM2 will not reload workers in a crash loop ('process already started'): the restore restarts them.
            $restore = $backup | Restore-Build -Url $healthUrl -Confirm:$false -WarningAction SilentlyContinue
            $restore.Health.Healthy | Should -BeTrue
            (Get-RigAppHealth $rig).version | Should -Be '1'
            @(Get-AedRigPm2Process -Rig $rig | Where-Object status -eq 'online').Count | Should -Be 2
        }
    }

    Context 'Clear-NginxCache' {
        It 'Should empty the cache so nginx serves the live version' {
            $page = "http://127.0.0.1:$($rig.NginxPort)/"
            Invoke-AedRigHttp -Uri $page | Out-Null
            (Invoke-AedRigHttp -Uri $page).Headers['X-Cache-Status'] | Should -Be 'HIT'
            $result = Clear-NginxCache -Session $session -CachePath $rig.NginxCachePath -TestCommand $rig.NginxTestCommand -ReloadCommand $rig.NginxReloadCommand -Confirm:$false
            $result.FilesRemoved | Should -BeGreaterThan 0
            $result.Reloaded | Should -BeTrue
            (Invoke-AedRigHttp -Uri $page).Headers['X-Cache-Status'] | Should -Be 'MISS'
        }

        It 'Should warn, or fail with -Strict, when the cache path does not exist' {
            $missing = "$($rig.Root)/no-such-cache"
            $result = Clear-NginxCache -Session $session -CachePath $missing -TestCommand $rig.NginxTestCommand -ReloadCommand $rig.NginxReloadCommand -Confirm:$false -WarningVariable warned -WarningAction SilentlyContinue
            $result.Succeeded | Should -BeFalse
            $warned | Should -Match 'does not exist'
            { Clear-NginxCache -Session $session -CachePath $missing -TestCommand $rig.NginxTestCommand -ReloadCommand $rig.NginxReloadCommand -Strict -Confirm:$false } |
                Should -Throw -ErrorId 'NginxCacheClearFailed,AedDeploy.Cmdlets.ClearNginxCacheCommand'
        }

        It 'Should not reload nginx when its configuration fails the test' {
            $conf = $rig.NginxConfPath
            Invoke-AedRigShell -Rig $rig -Command "cp '$conf' '$conf.good' && echo 'this is not nginx;' >> '$conf'" | Out-Null
            try {
                $result = Clear-NginxCache -Session $session -CachePath $rig.NginxCachePath -TestCommand $rig.NginxTestCommand -ReloadCommand $rig.NginxReloadCommand -Confirm:$false -WarningAction SilentlyContinue
                $result.ConfigurationValid | Should -BeFalse
                $result.Reloaded | Should -BeFalse
                (Invoke-AedRigHttp -Uri "http://127.0.0.1:$($rig.NginxPort)/api/health").StatusCode | Should -Be 200
            }
            finally {
                Invoke-AedRigShell -Rig $rig -Command "mv -f '$conf.good' '$conf'" | Out-Null
            }
        }

        It 'Should refuse a cache path near the root' {
            { Clear-NginxCache -Session $session -CachePath '/var' -Confirm:$false } | Should -Throw -ErrorId 'CachePathTooBroad,AedDeploy.Cmdlets.ClearNginxCacheCommand'
        }
    }
}
