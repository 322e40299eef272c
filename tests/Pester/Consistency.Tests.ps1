#Requires -Version 7.4
# Issue 11 on a Release-layout rig: a drifted target is refused (TargetDrifted) and Repair-DeployTarget fixes it;
# a deploying pwsh process killed with SIGKILL (after the switch, during the build) leaves a lock that the next
# deploy takes over once its lease has run out, repairing the target first, with 0 failed requests throughout;
# Get-DeployHistory and Unlock-Deploy by -AppPath alone.

Describe 'Consistency, lock lease and repair, Release layout' -Tag Integration {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        Import-Module (Join-Path $PSScriptRoot '../Rig/AedDeployProbe.psm1') -Force
        $rig = Start-AedRig -Layout Release
        $session = New-RigSession $rig
        $app = @{ Session = $session; AppPath = $rig.AppRoot; AppName = $rig.AppName; Layout = 'Release' }
        $healthUrl = "http://127.0.0.1:$($rig.AppPort)/api/health"
        # A short lease keeps the takeover tests fast; the deploy renews its lock every 2 s.
        $lease = 10
        $script:version = 1

        function Publish-NextVersion {
            $script:version++
            $null = Publish-AedFixtureVersion -Rig $rig -Version "$script:version"
            "$script:version"
        }

        function Invoke-LeasedDeploy([hashtable] $Extra = @{}) {
            Invoke-RigDeploy $rig $session Release -Extra (@{ LockLease = $lease; MaximumRetryCount = 2 } + $Extra)
        }

        function Get-Live { (Invoke-AedRigShell -Rig $rig -Command "basename `"`$(readlink '$($rig.AppRoot)/current')`"").Trim() }

        function Get-WorkerRelease {
            # Where the workers really run: /proc/<pid>/cwd of each, resolved.
            Get-AedRigPm2Process -Rig $rig | ForEach-Object { (Invoke-AedRigShell -Rig $rig -Command "basename `"`$(readlink -f /proc/$($_.pid)/cwd)`"").Trim() } | Sort-Object -Unique
        }

        function Switch-ByHand([string] $ReleaseId, [switch] $Reload) {
            $root = $rig.AppRoot
            $command = "ln -sfn '$root/releases/$ReleaseId' '$root/current.hand' && mv -fT '$root/current.hand' '$root/current'"
            if ($Reload) { $command += " && cd '$root/current' && pm2 reload ecosystem.config.cjs >/dev/null" }
            $null = Invoke-AedRigShell -Rig $rig -Command $command
        }

        function Get-TargetState {
            # Everything a repair could change: the links, the release records, the rollback target, the history, the workers.
            $state = Invoke-AedRigShell -Rig $rig -Command "cd '$($rig.AppRoot)' && readlink current; cat .aeddeploy/rollback-target .aeddeploy/releases/*.json .aeddeploy/history.jsonl 2>/dev/null; ls .aeddeploy"
            $pm2 = Get-AedRigPm2Process -Rig $rig | ForEach-Object { "$($_.pm_id) $($_.status) $($_.pid) $($_.restart_time)" }
            ($state + $pm2) -join "`n"
        }

        function Start-KilledDeploy([string] $Marker, [int] $DelayMs = 0) {
            # A separate pwsh process runs the deploy with -Verbose into a log, and is killed with SIGKILL (no clean-up
            # of any kind runs) once the marker line has appeared and DelayMs more have passed. Returns its log.
            $log = Join-Path ([IO.Path]::GetTempPath()) "aeddeploy-killed-$([guid]::NewGuid().ToString('N')).log"
            $script = Join-Path ([IO.Path]::GetTempPath()) "aeddeploy-killed-$([guid]::NewGuid().ToString('N')).ps1"
            Set-Content -LiteralPath $script -Value @'
param($Manifest, $HostName, $Port, $UserName, $KeyPath, $KnownHosts, $AppPath, $AppName, $HealthUrl, $Lease, $Log)
Import-Module $Manifest
$session = New-DeploySession -HostName $HostName -Port $Port -UserName $UserName -KeyFilePath $KeyPath -KnownHostsPath $KnownHosts
Invoke-ZeroDowntimeDeploy -Session $session -AppPath $AppPath -AppName $AppName -Ref main -HealthUrl $HealthUrl -LockLease $Lease -Confirm:$false -Verbose 4>&1 |
    ForEach-Object { [IO.File]::AppendAllText($Log, "$_`n") }
'@
            $process = [Environment]::ProcessPath
            $psi = [Diagnostics.ProcessStartInfo]::new($process)
            if ([IO.Path]::GetFileNameWithoutExtension($process) -eq 'dotnet') { $psi.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll')) }
            foreach ($a in '-NoProfile', '-NonInteractive', '-File', $script, $moduleManifest, $rig.HostName, "$($rig.SshPort)", $rig.UserName, $rig.KeyPath, $rig.KnownHostsPath,
                $rig.AppRoot, $rig.AppName, $healthUrl, "$lease", $log) { $psi.ArgumentList.Add($a) }
            $psi.UseShellExecute = $false
            $psi.RedirectStandardOutput = $true
            $psi.RedirectStandardError = $true
            $deploy = [Diagnostics.Process]::Start($psi)
            try {
                $watch = [Diagnostics.Stopwatch]::StartNew()
                while (-not ((Test-Path $log) -and (Select-String -LiteralPath $log -Pattern $Marker -Quiet)) -and -not $deploy.HasExited -and $watch.Elapsed.TotalSeconds -lt 180) {
                    Start-Sleep -Milliseconds 50
                }
                $deploy.HasExited | Should -BeFalse -Because "the deploy must still run when '$Marker' appears (log: $log)"
                Start-Sleep -Milliseconds $DelayMs
                $null = Invoke-RigProcessKill $deploy.Id
                $deploy.WaitForExit(30000) | Should -BeTrue
                $deploy.ExitCode | Should -Be 137 -Because 'the process was killed with SIGKILL'
            }
            finally {
                if (-not $deploy.HasExited) { $deploy.Kill($true) }
                $deploy.Dispose()
                Remove-Item -LiteralPath $script -Force
            }
            $text = Get-Content -LiteralPath $log -Raw
            [pscustomobject]@{
                Log       = $log
                DeployId  = [regex]::Match($text, '"deployId":"([^"]+)"').Groups[1].Value
                ReleaseId = [regex]::Match($text, "fetch-release\.sh '[^']+' '([^']+)'").Groups[1].Value
            }
        }

        function Invoke-RigProcessKill([int] $ProcessId) {
            # kill -KILL: the process gets no chance to release its lock, write its history or roll back.
            $result = & /bin/kill -KILL $ProcessId 2>&1
            if ($LASTEXITCODE -ne 0) { throw "kill -KILL $ProcessId failed: $result" }
        }

        # The baseline: a verified release, so that the tests below have a last verified release to go back to.
        $null = Publish-NextVersion
        $baseline = Invoke-LeasedDeploy
        if ($baseline.Outcome -ne 'Succeeded') { throw "The baseline deploy failed: $($baseline.Reason)" }
        $probeSet = Get-AedProbeTargetSet -Rig $rig
        $warm = Start-AedProbe -Targets $probeSet.Targets -MaxDurationSec 30 -RequestTimeoutMs 10000
        Start-Sleep -Seconds 3
        $null = Stop-AedProbe -Probe $warm
    }
    AfterAll {
        if ($session) { Remove-DeploySession $session }
        if ($rig) { Stop-AedRig -Rig $rig }
    }

    It 'Should read the history and release a lock with -AppPath alone' {
        $path = @{ Session = $session; AppPath = $rig.AppRoot }
        (Get-DeployHistory @path -Last 1).Id | Should -Be $baseline.Id
        $owner = '{"deployId":"by-hand","user":"ops@laptop","ref":"main","startedAt":"2026-11-26T00:00:00Z"}'
        Invoke-AedRigShell -Rig $rig -Command "mkdir -p '$($rig.AppRoot)/.aeddeploy/lock' && echo '$owner' > '$($rig.AppRoot)/.aeddeploy/lock/owner.json' && echo by-hand > '$($rig.AppRoot)/.aeddeploy/lock/id'" | Out-Null
        $released = Unlock-Deploy @path -Reason 'the laptop is gone' -Confirm:$false
        $released.DeployId | Should -Be 'by-hand'
        Test-RigLocked $rig | Should -BeFalse
        $entry = Get-DeployHistory @path -Last 1
        $entry.Kind | Should -Be 'Unlock'
        $entry.Reason | Should -Match 'the laptop is gone'
    }

    It 'Should refuse a target switched by hand <Case> with TargetDrifted, show the repair under -WhatIf without changing anything, repair it, and deploy after' -ForEach @(
        @{ Case = 'without a reload'; Reload = $false }
        @{ Case = 'and reloaded'; Reload = $true }
    ) {
        $verified = Get-Live
        $other = (Get-Release @app | Where-Object { $_.Id -ne $verified } | Select-Object -Last 1).Id
        $other | Should -Not -BeNullOrEmpty
        Switch-ByHand $other -Reload:$Reload
        (Get-WorkerRelease) | Should -Be $(if ($Reload) { $other } else { $verified })

        $null = Publish-NextVersion
        $refused = Invoke-LeasedDeploy
        $refused.Outcome | Should -Be 'Failed'
        $refused.FailedPhase | Should -Be 'Preflight'
        $refused.ErrorId | Should -Be 'TargetDrifted'
        $refused.Reason | Should -Match "current points at release $other"
        $refused.Reason | Should -Match "last release recorded Verified is $verified"
        if (-not $Reload) { $refused.Reason | Should -Match "runs .*/releases/$verified, not the live" }
        $DeployError.Exception.Message | Should -Match 'Repair-DeployTarget'
        Get-Live | Should -Be $other -Because 'a refused deploy changes nothing'

        $before = Get-TargetState
        $plan = Repair-DeployTarget @app -Url $healthUrl -WhatIf
        $plan.ReleaseId | Should -Be $verified
        $plan.SwitchFrom | Should -Be $other
        $plan.Reload | Should -BeTrue
        Get-TargetState | Should -Be $before -Because '-WhatIf changes nothing'

        $repair = Repair-DeployTarget @app -Url $healthUrl -RetryIntervalSec 1 -Confirm:$false
        $repair.ReleaseId | Should -Be $verified
        $repair.Health.Healthy | Should -BeTrue
        Get-Live | Should -Be $verified
        Get-WorkerRelease | Should -Be $verified
        $entry = Get-DeployHistory -Session $session -AppPath $rig.AppRoot -Last 1
        $entry.Kind | Should -Be 'Repair'
        $entry.Outcome | Should -Be 'Succeeded'
        $entry.ToRelease | Should -Be $verified
        Test-RigLocked $rig | Should -BeFalse

        $record = Invoke-LeasedDeploy
        $DeployError | Should -BeNullOrEmpty
        $record.Outcome | Should -Be 'Succeeded'
        (Get-RigAppHealth $rig -ViaNginx).version | Should -Be "$script:version"
    }

    It 'Should take over the lock of a deploy killed with SIGKILL <When>, repair, and deploy, with no failed request' -ForEach @(
        @{ When = 'right after its Switch phase started'; Marker = '^Phase Switch\.$'; DelayMs = 0 }
        @{ When = 'during its build'; Marker = '\$ build-app\.sh '; DelayMs = 2000 }
    ) {
        $verified = Get-Live
        $null = Publish-NextVersion
        # The chunk probed is the live version's own (the one open tabs of it load), found now: releases age out
        # of the static retention window, so a chunk picked at the start of the file may rightly be gone by now.
        $probeSet = Get-AedProbeTargetSet -Rig $rig
        # The workers the last test reloaded load each route on its first request: warmed up first, so that
        # their warm-up is not counted. An answer counts as failed after 5 s, as in the rehearsals.
        $warm = Start-AedProbe -Targets $probeSet.Targets -MaxDurationSec 30 -RequestTimeoutMs 10000
        Start-Sleep -Seconds 3
        $null = Stop-AedProbe -Probe $warm
        $probe = Start-AedProbe -Targets $probeSet.Targets -MaxDurationSec 400 -RequestTimeoutMs 5000
        $ps = $null
        try {
            $killed = Start-KilledDeploy -Marker $Marker -DelayMs $DelayMs
            $killedAtMs = [math]::Round($probe.ElapsedMs)
            $killed.DeployId | Should -Not -BeNullOrEmpty
            $killed.ReleaseId | Should -Not -BeNullOrEmpty
            Test-RigLocked $rig | Should -BeTrue -Because 'a killed deploy cannot release its lock'

            # Started at once: the lock is still within its lease, so the deploy waits for it to expire. Run under
            # the probe's clock, so that a failed request can be put in the phase it happened in.
            $ps = New-ModulePowerShell
            $null = $ps.AddCommand('Invoke-ZeroDowntimeDeploy').AddParameters(@{
                    Session = $session; AppPath = $rig.AppRoot; AppName = $rig.AppName; Ref = 'main'; HealthUrl = $healthUrl
                    CachePath = $rig.NginxCachePath; NginxTestCommand = $rig.NginxTestCommand; NginxReloadCommand = $rig.NginxReloadCommand
                    RetryIntervalSec = 1; MaximumRetryCount = 2; LockLease = $lease; LockWaitTimeout = 3 * $lease; Confirm = $false; Verbose = $true
                })
            $run = Invoke-AedProbedDeploy -Probe $probe -PowerShell $ps -TimeoutSec 400
            Start-Sleep -Milliseconds 1000
        }
        finally {
            $result = Stop-AedProbe -Probe $probe
            if ($ps) { $ps.Dispose() }
        }
        $record = $run.Output | Where-Object { $_.GetType().FullName -eq 'AedDeploy.DeploymentRecord' } | Select-Object -Last 1
        $failures = ($result.Samples | Where-Object Failed | ForEach-Object {
                $at = $_.AtMs
                $phase = if ($at -lt $killedAtMs) { 'the killed deploy' } else { ($run.Phases | Where-Object StartMs -le $at | Select-Object -Last 1).Name }
                "$($_.Target) at $([math]::Round($at)) ms ($phase): $($_.Error)$($_.Status)"
            }) -join '; '
        Write-Host "killed deploy $($killed.DeployId) (release $($killed.ReleaseId)) at $killedAtMs ms, log $($killed.Log); next deploy $($record.Outcome) $($run.StartMs)-$($run.EndMs) ms, phases $(($run.Phases | ForEach-Object { "$($_.Name)@$($_.StartMs)" }) -join ' '); probe $($result.Sent) sent, $($result.Failed) failed: $failures"

        $run.Error | Should -BeNullOrEmpty
        $record.Outcome | Should -Be 'Succeeded'
        $record.Phases.Name[0..3] | Should -Be @('Preflight', 'Lock', 'Repair', 'Backup')
        ($record.Phases | Where-Object Name -eq 'Lock').Detail | Should -Match $killed.DeployId
        $record.FromRelease | Should -Be $verified -Because 'the rollback target is the last verified release, not what the killed deploy switched to'
        (Get-RigAppHealth $rig -ViaNginx).version | Should -Be "$script:version"

        $history = @(Get-DeployHistory -Session $session -AppPath $rig.AppRoot -Last 2)
        $history[0].Kind | Should -Be 'TakeOver'
        $history[0].Id | Should -Be $killed.DeployId
        $history[0].Outcome | Should -Be 'Succeeded'
        $history[0].Reason | Should -Match "took over the lock of deploy $($killed.DeployId)"
        $history[1].Id | Should -Be $record.Id

        $abandoned = Get-Release @app | Where-Object Id -eq $killed.ReleaseId
        $abandoned.Status | Should -Be 'Failed'
        $abandoned.Reason | Should -Be "abandoned by deploy $($killed.DeployId)"
        @(Get-Release @app | Where-Object Status -in 'Building', 'Built') | Should -BeNullOrEmpty
        $left = Invoke-AedRigShell -Rig $rig -Command "for p in /proc/[0-9]*; do c=`$(readlink `$p/cwd 2>/dev/null) && case `"`$c`" in */releases/$($killed.ReleaseId)*) echo `"`${p#/proc/} `$c`";; esac; done; true"
        $left | Where-Object { $_ } | Should -BeNullOrEmpty -Because 'nothing the killed deploy started runs on in its release'
        Test-RigLocked $rig | Should -BeFalse
        $result.Failed | Should -Be 0 -Because "not one request may fail ($failures)"
    }
}
