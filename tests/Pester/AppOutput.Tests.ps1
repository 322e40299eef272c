#Requires -Version 7.4
# What the app prints, on both layouts: an ecosystem file or next.config that prints when loaded (JSON lines
# shaped like a script's answer included) never passes for a script's answer and is kept in Verbose; when the
# app is at fault (a crash at boot, a health route that throws), the deploy's error and record carry the
# app's own last output (the boot test's, or what the new workers wrote to their PM2 logs).

BeforeDiscovery {
    $layouts = @(@{ Layout = 'Release' }, @{ Layout = 'InPlace' })
}

Describe 'The app''s output in a deploy, <Layout> layout' -Tag Integration -ForEach $layouts {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        $rig = Start-AedRig -Layout $Layout
        $session = New-RigSession $rig
        $script:live = '1'

        function Invoke-LoggedDeploy([hashtable] $Extra = @{}) {
            # The deploy's record, and its Verbose and Warning messages as text.
            $verbose = [Collections.Generic.List[string]]::new()
            $warnings = [Collections.Generic.List[string]]::new()
            $record = Invoke-RigDeploy $rig $session $Layout -Extra ($Extra + @{ Verbose = $true }) 4>&1 3>&1 | ForEach-Object {
                if ($_ -is [Management.Automation.VerboseRecord]) { $verbose.Add($_.Message) }
                elseif ($_ -is [Management.Automation.WarningRecord]) { $warnings.Add($_.Message) }
                else { $_ }
            }
            [pscustomobject]@{ Record = $record; Verbose = $verbose; Warnings = $warnings }
        }

        function Assert-Serving([string] $Version) {
            (Get-RigAppHealth $rig).version | Should -Be $Version
            (Get-RigAppHealth $rig -ViaNginx).version | Should -Be $Version
            @(Get-AedRigPm2Process -Rig $rig | Where-Object status -eq 'online').Count | Should -Be 2
        }
    }
    AfterAll {
        if ($session) { Remove-DeploySession $session }
        if ($rig) { Stop-AedRig -Rig $rig }
    }

    It 'Should deploy an ecosystem file that prints lines and JSON when it is loaded, and keep those lines in Verbose' {
        Publish-AedFixtureVersion -Rig $rig -Version 'noisy-eco' -Change NoisyEcosystem | Out-Null
        $deploy = Invoke-LoggedDeploy @{ ContentPattern = '"version":"noisy-eco"' }
        $DeployError | Should -BeNullOrEmpty
        $deploy.Record.Outcome | Should -Be 'Succeeded'
        Assert-Serving 'noisy-eco'
        $script:live = 'noisy-eco'
        $verbose = $deploy.Verbose -join "`n"
        $verbose | Should -Match ([regex]::Escape('[dotenv@17.2.3] injecting env ('))
        $verbose | Should -Match 'fixture NoisyEcosystem stdout'
        $verbose | Should -Match 'fixture NoisyEcosystem stderr'
        $verbose | Should -Match 'fixture NoisyEcosystem plain stderr'
        # Had the printed JSON been taken for inspect-ecosystem.js's answer (no wait_ready, no node_args), the
        # reload would have warned that the app does not tell PM2 when it is ready.
        $deploy.Warnings | Where-Object { $_ -match 'does not tell PM2' } | Should -BeNullOrEmpty
    }

    It 'Should deploy a next.config that prints when it is loaded, and keep those lines in Verbose' {
        Publish-AedFixtureVersion -Rig $rig -Version 'noisy-next' -Change NoisyNextConfig | Out-Null
        $deploy = Invoke-LoggedDeploy @{ ContentPattern = '"version":"noisy-next"' }
        $DeployError | Should -BeNullOrEmpty
        $deploy.Record.Outcome | Should -Be 'Succeeded'
        Assert-Serving 'noisy-next'
        $script:live = 'noisy-next'
        $verbose = $deploy.Verbose -join "`n"
        $verbose | Should -Match 'fixture NoisyNextConfig stdout'
        $verbose | Should -Match 'fixture NoisyNextConfig json'
        $verbose | Should -Match 'fixture NoisyNextConfig stderr'
    }

    It 'Should show what a release that crashes at boot printed, in the terminal error and the record' {
        Publish-AedFixtureVersion -Rig $rig -Version 'crash' -Change CrashAtBoot | Out-Null
        $record = (Invoke-LoggedDeploy).Record
        if ($Layout -eq 'Release') {
            # The boot test stops it before the live workers, and has the thrown error itself.
            $record.Outcome | Should -Be 'Failed'
            $record.FailedPhase | Should -Be 'BootTest'
            $record.ErrorId | Should -Be 'BootTestFailed'
            $expected = 'fixture CrashAtBoot: refusing to start'
        }
        else {
            # No boot test in place: the reloaded workers crash-loop, and the backup is put back. What they
            # wrote is read from PM2's log files: Next's own line about the config. The thrown error's text does
            # not reach them in this rig: PM2 7's worker (ProcessContainer.js) sends an uncaught exception to its
            # log over IPC and exits at once, before the message is delivered.
            $record.Outcome | Should -Be 'RolledBack'
            $record.FailedPhase | Should -Be 'Reload'
            $record.ErrorId | Should -Be 'Pm2ReloadUnhealthy'
            $expected = 'Failed to load next\.config\.mjs'
        }
        $DeployError.Exception.Message | Should -Match $expected
        $record.AppOutput | Should -Match $expected
        $record.AppOutput.Length | Should -BeLessOrEqual 4001
        (Get-RigHistory $rig)[-1].appOutput | Should -Match $expected
        Assert-Serving $live
    }

    It 'Should show what the new workers logged when the health check fails' {
        Publish-AedFixtureVersion -Rig $rig -Version 'throws' -Change HealthThrows | Out-Null
        # On Release the boot test would catch it first: skipped, so that the workers are reloaded.
        $record = (Invoke-LoggedDeploy @{ SkipBootTest = ($Layout -eq 'Release'); MaximumRetryCount = 1 }).Record
        $record.Outcome | Should -Be 'RolledBack'
        $record.FailedPhase | Should -Be 'Health'
        $record.ErrorId | Should -Be 'AppUnhealthy'
        $DeployError.Exception.Message | Should -Match 'fixture HealthThrows: the health route threw'
        $record.AppOutput | Should -Match 'fixture HealthThrows: the health route threw'
        # PM2's logs, never its process list (which holds the app's env).
        $record.AppOutput | Should -Not -Match 'pm2_env|pm_exec_path'
        Assert-Serving $live
    }
}
