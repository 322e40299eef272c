#Requires -Version 7.4
<#
Failure rehearsals (issue 6): every way a deploy can go wrong, run for real while a prober sends requests
continuously (pages, the API route, a static chunk of the live version, a route never requested before,
straight to the app and through nginx; tests/Rig/AedDeployProbe.psm1). Each scenario asserts the failed
requests from start to end, the old version still serving, the outcome and error id in the record, the
lock released and a history entry; good deploys between the scenarios prove the target deployable again.

The target: the loopback rig by default, one rig per layout. Set $env:AEDDEPLOY_REHEARSAL_CONFIG to a psd1
to rehearse on a real staging server instead (only its layout runs). The file holds, for example:
    @{
        HostName = 'staging.example.com'; Port = 22; UserName = 'deploy'
        KeyFilePath = '~/.ssh/id_ed25519'; KnownHostsPath = '~/.ssh/known_hosts'   # or HostKeyFingerprint
        AppPath = '/srv/shop'; AppName = 'shop'; Layout = 'Release'
        HealthUrl = 'http://127.0.0.1:3000/api/health'          # probed on the server
        CachePath = '/var/cache/nginx/shop'
        NginxTestCommand = 'sudo -n nginx -t'; NginxReloadCommand = 'sudo -n nginx -s reload'
        NginxConfPath = '/etc/nginx/sites-enabled/shop.conf'     # writable by the deploy user, or the nginx scenario is skipped
        # Refs of the app's repository that carry each breakage; a scenario without its ref is skipped.
        Refs = @{ Good = 'main'; TypeScriptError = 'rehearsal/type-error'; BadDependency = 'rehearsal/bad-dependency'
                  BrokenEcosystem = 'rehearsal/broken-ecosystem'; CrashAtBoot = 'rehearsal/crash-at-boot'
                  Answer500 = 'rehearsal/answer-500'; SlowHealth = 'rehearsal/slow-health'; RemoveEnvKey = 'rehearsal/remove-env-key' }
        RemovedEnvKey = 'FEATURE_FLAG'                            # the key the RemoveEnvKey ref drops
        # What the prober requests from this machine; names starting with 'nginx:' keep connections alive.
        ProbeTargets = @{ 'nginx:/' = 'https://staging.example.com/'; 'nginx:/api/health' = 'https://staging.example.com/api/health' }
        DeferredProbeTargets = @{ 'nginx:/fresh' = 'https://staging.example.com/a-page-nobody-opened-since-the-last-deploy' }
        Deploy = @{ MaximumRetryCount = 2; RetryIntervalSec = 1 }  # more Invoke-ZeroDowntimeDeploy parameters
    }

Budget and what is shared: one rig per layout, versions deployed incrementally. The scenarios that fail before
the live state changes are followed by one good deploy for the group, not one each (a build costs 10-50 s here).
When both layouts run, the two scenarios whose code does not depend on the layout (two deploys at once, nginx -t at
the cache purge) run on the Release layout only. A scenario that found a bug may
leave PM2's reload lock, mixed workers or a stale nginx cache behind: the next one starts by clearing that (Repair-
LiveState), so that each failure is reported once, by the scenario that caused it. What each deploy said (its
Verbose stream, timed on the prober's clock) is kept in out/test-results/rehearsal/<layout>/.

What the Release layout promises, and is asserted: zero failed requests from the start of the deploy to the end,
every target. The InPlace layout cannot keep that (its `next build` wipes the .next the workers read), so there
the measured bound is asserted: no failed request before the build starts or after the deploy ends, and none
when the deploy fails before it touches the checkout. The failures in between are printed with each test.
#>

BeforeDiscovery {
    $configPath = $env:AEDDEPLOY_REHEARSAL_CONFIG
    $layouts = if ($configPath) {
        $layout = (Import-PowerShellDataFile -LiteralPath $configPath).Layout
        @(if ($layout) { $layout } else { 'Release' })
    }
    else { 'Release', 'InPlace' }
    # The scenarios whose code does not depend on the layout run once, on the Release layout when both run.
    $rehearsalTargets = foreach ($l in $layouts) { @{ Layout = $l; ConfigPath = $configPath; SkipShared = $l -ne 'Release' -and $layouts -contains 'Release' } }
}

Describe 'Failure rehearsals, <Layout> layout' -Tag Rehearsal -ForEach $rehearsalTargets {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        Import-Module (Join-Path $PSScriptRoot '../Rig/AedDeployProbe.psm1') -Force
        $inPlace = $Layout -eq 'InPlace'
        $rig = $null
        $script:versionCounter = 1
        # Script scope is shared by both layouts' blocks: the fault matrix's ref and build belong to one rig.
        $script:matrixRef = $null
        $script:matrixBuilt = $null

        function Get-ProbeSet {
            # The rig's targets, with the page's own client chunk of the version live now: the previous version's chunk
            # once the deploy switched, which tabs opened before it still ask for (Release: carried into every new release).
            # InPlace has no skew protection (its next build replaces .next/static; about_AedDeploy), so there the chunk of
            # the version before a deploy answers 404 from the reload on, for good: its targets are left out.
            $set = Get-AedProbeTargetSet -Rig $rig
            if ($inPlace) { foreach ($name in @($set.Targets.Keys | Where-Object { $_ -like '*:static' })) { $set.Targets.Remove($name) } }
            $set
        }

        if ($ConfigPath) {
            $config = Import-PowerShellDataFile -LiteralPath $ConfigPath
            $folder = Split-Path -Parent (Resolve-Path -LiteralPath $ConfigPath)
            $resolveLocal = { param($p) if (-not $p) { return $null }; if ($p -like '~*') { $p = $HOME + $p.Substring(1) }; [IO.Path]::GetFullPath($p, $folder) }
            $connect = @{ HostName = $config.HostName; UserName = $config.UserName }
            if ($config.Port) { $connect.Port = $config.Port }
            if ($config.KeyFilePath) { $connect.KeyFilePath = & $resolveLocal $config.KeyFilePath }
            if ($config.KnownHostsPath) { $connect.KnownHostsPath = & $resolveLocal $config.KnownHostsPath }
            if ($config.HostKeyFingerprint) { $connect.HostKeyFingerprint = $config.HostKeyFingerprint }
            $app = @{ AppPath = $config.AppPath; AppName = $config.AppName; Layout = $Layout }
            $deployDefaults = @{ HealthUrl = $config.HealthUrl; CachePath = $config.CachePath }
            foreach ($key in 'NginxTestCommand', 'NginxReloadCommand', 'Pm2Path', 'EcosystemFile') { if ($config[$key]) { $deployDefaults[$key] = $config[$key] } }
            $nginxConfPath = $config.NginxConfPath
            $removedEnvKey = if ($config.RemovedEnvKey) { $config.RemovedEnvKey } else { 'FEATURE_FLAG' }
            $probeSet = @{ Targets = $config.ProbeTargets; DeferredTargets = if ($config.DeferredProbeTargets) { $config.DeferredProbeTargets } else { @{} } }
            $allowRemote = $true
            $probeTimeoutMs = if ($config.ProbeTimeoutMs) { $config.ProbeTimeoutMs } else { 2000 }
        }
        else {
            $rig = Start-AedRig -Layout $Layout
            $connect = @{ HostName = $rig.HostName; Port = $rig.SshPort; UserName = $rig.UserName; KeyFilePath = $rig.KeyPath; KnownHostsPath = $rig.KnownHostsPath }
            $app = @{ AppPath = $rig.AppRoot; AppName = $rig.AppName; Layout = $Layout }
            $deployDefaults = @{
                HealthUrl = "http://127.0.0.1:$($rig.AppPort)/api/health"; CachePath = $rig.NginxCachePath
                NginxTestCommand = $rig.NginxTestCommand; NginxReloadCommand = $rig.NginxReloadCommand
            }
            $nginxConfPath = $rig.NginxConfPath
            $removedEnvKey = 'FEATURE_FLAG'
            $probeSet = Get-AedProbeTargetSet -Rig $rig   # for the warm-up; each rehearsal takes its own (Get-ProbeSet)
            $allowRemote = $false
            # A request fails when it is refused, reset, answers an error, or has no answer within 5 s. A 2-s bound
            # also failed single answers that came late on this 2-core machine (one during a build before builds
            # ran niced, one during a rollback's reload: 2.0-2.5 s), which is latency, measured by the benchmark.
            $probeTimeoutMs = 5000
        }
        # Short health retries keep the rehearsal within its budget; the configuration may set others.
        $deployDefaults.MaximumRetryCount = 2
        $deployDefaults.RetryIntervalSec = 1
        $deployDefaults.BootTestTimeout = 12
        if ($config -and $config.Deploy) { foreach ($key in $config.Deploy.Keys) { $deployDefaults[$key] = $config.Deploy[$key] } }

        # The deploy's connection, and a second one for the test's own look-ups and to cut the first from the server side.
        $sessions = @{ Deploy = New-DeploySession @connect; Control = New-DeploySession @connect }
        $livePath = if ($inPlace) { $app.AppPath } else { "$($app.AppPath)/current" }
        $pm2Command = if ($deployDefaults.Pm2Path) { $deployDefaults.Pm2Path } else { 'pm2' }

        function Invoke-Control([string] $Command, [string[]] $Arguments = @()) {
            if ($sessions.Control.State -ne 'Open') { $sessions.Control = New-DeploySession @connect }
            $quoted = ($Arguments | ForEach-Object { "'" + $_.Replace("'", "'\''") + "'" }) -join ' '
            $text = if ($Arguments) { "set -- $quoted`n$Command" } else { $Command }
            (Invoke-DeployCommand -Session $sessions.Control -Command $text -ErrorOnNonZeroExit).Output
        }

        function Get-LiveState {
            # What is live: the build id on disk behind the live path, the app's own answer (rig: version and flag), PM2.
            $buildId = (Invoke-Control 'cat -- "$(readlink -f -- "$1")/.next/BUILD_ID"' $livePath).Trim()
            # Only the statuses leave the server: pm2 jlist carries the app's environment, secrets included.
            $pm2 = Invoke-Control @'
"$2" jlist --silent | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const p of JSON.parse(s))if(p.name===process.argv[1])console.log(p.pm2_env.status)})' "$1"
'@ $app.AppName, $pm2Command
            $state = [pscustomobject]@{ BuildId = $buildId; Online = @($pm2 -split "`n" | Where-Object { $_ -eq 'online' }).Count; Version = $null; FeatureFlag = $null; NginxVersion = $null }
            if ($rig) {
                $health = Get-RigAppHealth $rig
                $state.Version = $health.version
                $state.FeatureFlag = $health.featureFlag
                $state.NginxVersion = (Get-RigAppHealth $rig -ViaNginx).version
            }
            $state
        }

        function Test-Locked { (Invoke-Control 'test -d "$1/.aeddeploy/lock" && echo locked || echo free' $app.AppPath).Trim() -eq 'locked' }

        function Get-NextRef([string] $Change = 'None') {
            # The rig gets a new commit per deploy (version n, with the breakage asked for); a staging server the
            # configured ref of that breakage, or $null when the configuration has none (the test is skipped).
            if (-not $rig) { return $config.Refs[$(if ($Change -eq 'None') { 'Good' } else { $Change })] }
            $script:versionCounter++
            $version = "$($script:versionCounter)$(if ($Change -ne 'None') { "-$Change".ToLowerInvariant().Substring(0, [Math]::Min(21, $Change.Length + 1)) })"
            $branch = "r$($script:versionCounter)"
            $null = Publish-AedFixtureVersion -Rig $rig -Version $version -Change $Change -Branch $branch
            $script:lastVersion = $version
            $branch
        }

        # Two runspaces with the module imported, opened once: one per deploy running at the same time.
        $moduleState = [initialsessionstate]::CreateDefault2()
        $moduleState.ImportPSModule([string[]]@($moduleManifest))
        $runspaces = @(1..2 | ForEach-Object { $r = [runspacefactory]::CreateRunspace($moduleState); $r.Open(); $r })
        $logFolder = New-Item -ItemType Directory -Force (Join-Path $PSScriptRoot "../../out/test-results/rehearsal/$Layout")
        $script:runCounter = 0

        function New-DeployPowerShell([string] $Ref, [hashtable] $Extra = @{}, [int] $Slot = 0) {
            if ($sessions.Deploy.State -ne 'Open') { $sessions.Deploy = New-DeploySession @connect }
            $parameters = @{ Session = $sessions.Deploy; Ref = $Ref; Confirm = $false; Verbose = $true } + $app + $deployDefaults
            foreach ($key in $Extra.Keys) { $parameters[$key] = $Extra[$key] }
            $ps = [powershell]::Create()
            $ps.Runspace = $runspaces[$Slot]
            $null = $ps.AddCommand('Invoke-ZeroDowntimeDeploy').AddParameters($parameters)
            $ps
        }

        function Invoke-Rehearsal {
            # One deploy under the prober: 0.5 s of probing before it, 1.5 s after it. Returns the run with its
            # probe result, record (from the output, or from the history when Ctrl+C ate it) and live state.
            param([string] $Ref, [hashtable] $Extra = @{}, [hashtable[]] $Trigger = @(), [scriptblock] $Concurrent)
            if ($rig) { $probeSet = Get-ProbeSet }
            $probe = Start-AedProbe -Targets $probeSet.Targets -DeferredTargets $probeSet.DeferredTargets -MaxDurationSec 600 `
                -RequestTimeoutMs $probeTimeoutMs -AllowRemote:$allowRemote
            $ps = $null
            try {
                Start-Sleep -Milliseconds 300
                $ps = New-DeployPowerShell -Ref $Ref -Extra $Extra
                $other = if ($Concurrent) { & $Concurrent }
                $run = Invoke-AedProbedDeploy -Probe $probe -PowerShell $ps -Trigger $Trigger -TimeoutSec 420
                if ($other) { $other = & $other }
                Start-Sleep -Milliseconds 1000
            }
            finally {
                $result = Stop-AedProbe -Probe $probe
                if ($ps) { $ps.Dispose() }
            }
            $record = $run.Output | Where-Object { $_.GetType().FullName -eq 'AedDeploy.DeploymentRecord' } | Select-Object -Last 1
            $history = Get-DeployHistory -Session $sessions.Control @app -Last 3
            if (-not $record) { $record = $history | Select-Object -Last 1 }
            if ($record.Phases | Where-Object { $_.Name -eq 'Rollback' -and $_.Outcome -ne 'Succeeded' }) { $script:repairNeeded = $true }
            # Everything the deploy said, timed on the probe's clock, for whoever has to find out why a rehearsal failed.
            $script:runCounter++
            $log = Join-Path $logFolder ('{0:00}-{1}.log' -f $script:runCounter, ($Ref -replace '[^A-Za-z0-9._-]', '_'))
            $run.Lines | ForEach-Object { '{0,8} {1}' -f $_.AtMs, $_.Text } | Set-Content -LiteralPath $log
            $run | Add-Member -NotePropertyMembers @{ Ref = $Ref; Probe = $result; Record = $record; History = $history; Other = $other; Log = $log }
            $run | Add-Member -PassThru Text (Format-Rehearsal -Run $run -Probe $result -Record $record)
        }

        function Format-Rehearsal($Run, $Probe, $Record) {
            # What the deploy did and what the prober saw, by phase: printed with every test, and the reason on failure.
            $lines = @("deploy: $($Record.Outcome) $($Record.FailedPhase) $($Record.ErrorId) in $([math]::Round($Record.Duration.TotalSeconds, 1)) s; $($Record.Reason)")
            $lines += '  phases: ' + (($Record.Phases | ForEach-Object { "$($_.Name) $($_.Outcome) $([math]::Round($_.Duration.TotalSeconds, 1))s" }) -join ', ')
            $lines += "  verbose log: $($Run.Log)"
            $lines += "  probe: $($Probe.Sent) sent, $($Probe.Failed) failed, longest failure window $($Probe.LongestFailureWindowMs) ms; deploy ran $($Run.StartMs)-$($Run.EndMs) ms, fresh route enabled at $($Run.ArmedAtMs) ms"
            foreach ($t in $Probe.Targets | Where-Object Failed) {
                $phase = ($Run.Phases | Where-Object StartMs -le $t.FirstFailureAtMs | Select-Object -Last 1).Name
                $lines += "  $($t.Target): $($t.Failed)/$($t.Sent) failed ($($t.Failures)), $($t.FirstFailureAtMs)-$($t.LastFailureAtMs) ms, from phase $phase, longest $($t.LongestFailureWindowMs) ms"
            }
            $lines -join "`n"
        }

        function Assert-Rehearsal {
            # The common assertions. -Bounded (InPlace, once the build ran): failures only between the build's start
            # and the deploy's end, instead of none at all.
            param($Run, [string] $Outcome, [string] $FailedPhase, [string] $ErrorId, $Before, [switch] $Bounded, [switch] $NewVersion)
            $after = Get-LiveState
            Write-Host "$($Run.Text)`n  live before: $($Before | ConvertTo-Json -Compress)`n  live after:  $($after | ConvertTo-Json -Compress)"
            $record = $Run.Record
            $record | Should -Not -BeNullOrEmpty -Because 'every deploy leaves a record'
            $record.Ref | Should -Be $Run.Ref -Because 'the record is this deploy''s'
            $record.Outcome | Should -Be $Outcome -Because $Run.Text
            if ($FailedPhase) { $record.FailedPhase | Should -Be $FailedPhase -Because $Run.Text }
            if ($ErrorId) { $record.ErrorId | Should -Be $ErrorId -Because $Run.Text }
            ($Run.History | Select-Object -Last 1).Id | Should -Be $record.Id -Because 'the history ends with this deploy'
            Test-Locked | Should -BeFalse -Because 'the lock is always released'
            $after.Online | Should -Be $Before.Online -Because 'every instance is online again'
            if ($NewVersion) {
                $after.BuildId | Should -Be $record.ToBuildId
                if ($rig) { $after.Version | Should -Be $script:lastVersion; $after.NginxVersion | Should -Be $script:lastVersion }
                # The rig's fixture loads the ready preload: health is proven by each answer's X-Build-Id.
                if ($rig) { $record.HealthProof | Should -Be 'BuildIdHeader' -Because 'the preload''s header proves the new build answers' }
            }
            else {
                $after.BuildId | Should -Be $Before.BuildId -Because 'the old build is live'
                if ($rig) { $after.Version | Should -Be $Before.Version; $after.NginxVersion | Should -Be $Before.Version }
            }
            # What the prober got in its last second, through every target, is the version that should be live.
            $expected = if ($NewVersion) { $script:lastVersion } else { $Before.Version }
            if ($rig) {
                $tail = $Run.Probe.Samples | Where-Object { $_.AtMs -gt $Run.EndMs + 300 -and $_.Version }
                $tail | Should -Not -BeNullOrEmpty
                @($tail | Where-Object Version -ne $expected | ForEach-Object { "$($_.Target)=$($_.Version)" } | Select-Object -Unique) |
                    Should -BeNullOrEmpty -Because "every target answers version $expected at the end ($($Run.Text))"
            }
            if ($Bounded) {
                $buildStart = ($Run.Phases | Where-Object Name -eq 'Build' | Select-Object -First 1).StartMs
                $buildStart | Should -Not -BeNullOrEmpty
                @($Run.Probe.Samples | Where-Object { $_.Failed -and ($_.AtMs -lt $buildStart -or $_.AtMs -gt $Run.EndMs) }).Count |
                    Should -Be 0 -Because "InPlace fails requests only while .next is rebuilt or restored ($($Run.Text))"
            }
            else {
                $Run.Probe.Failed | Should -Be 0 -Because "not one request may fail ($($Run.Text))"
            }
        }

        function Assert-Consistent {
            # The invariants a deploy must leave, whatever happened: every worker runs in the live folder (Release:
            # the release current points at), the live release is recorded Verified and is the rollback target,
            # the lock is free.
            $folders = Invoke-Control @'
readlink -f -- "$1"
"$3" jlist --silent | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const p of JSON.parse(s))if(p.name===process.argv[1])console.log(p.pid)})' "$2" |
  while read -r pid; do readlink -f "/proc/$pid/cwd"; done
'@ $livePath, $app.AppName, $pm2Command
            $lines = @($folders -split "`n" | Where-Object { $_ })
            $lines.Count | Should -BeGreaterThan 1 -Because 'PM2 runs the app'
            @($lines | Select-Object -Skip 1 | Where-Object { $_ -ne $lines[0] }) | Should -BeNullOrEmpty -Because "every worker runs in $($lines[0])"
            if (-not $inPlace) {
                # Verified, or (Unknown) the release the rig made before any deploy proved one.
                $releases = @(Get-Release -Session $sessions.Control @app)
                $live = $releases | Where-Object IsLive
                $expected = if ($releases.Status -contains 'Verified') { 'Verified' } else { 'Unknown' }
                $live.Status | Should -Be $expected -Because 'the live release is the last one proven healthy'
                $live.IsRollbackTarget | Should -BeTrue
                @($releases | Where-Object { $_.Status -in 'Building', 'Built' -and -not $_.IsLive }).Id | Should -BeNullOrEmpty -Because 'no release is left Building or Built when nothing builds'
            }
            Test-Locked | Should -BeFalse
        }

        function Wait-Pm2ReloadLock {
            # An interrupted `pm2 reload` leaves PM2's reload lock file behind, and PM2 refuses every reload for
            # 30 s (PM2_RELOAD_LOCK_TIMEOUT, lib/Common.js lockReload): the next scenario waits it out.
            $null = Invoke-Control @'
f="${PM2_HOME:-$HOME/.pm2}/reload.lock"
for i in $(seq 1 350); do
  t=$(cat "$f" 2>/dev/null)
  if [ -z "$t" ] || [ $(( $(date +%s%3N) - t )) -ge 30000 ]; then exit 0; fi
  sleep 0.1
done
'@
        }

        function Repair-LiveState {
            # A scenario whose rollback failed leaves the workers as the failure left them (some on the new build, some
            # on the old), and one rolled back after the cache purge leaves nginx's cache full of the failed release's
            # pages: the next scenario starts with every worker on the live build and an empty cache, or it would
            # rehearse the same bug a second time and report it as its own.
            Wait-Pm2ReloadLock
            $null = Invoke-Control 'cd -- "$1" && "$3" reload "$2" --update-env >/dev/null' $livePath, $app.AppName, $pm2Command
            if ($deployDefaults.CachePath) { $null = Invoke-Control 'find "$1" -mindepth 1 -type f -delete' $deployDefaults.CachePath }
            $script:repairNeeded = $false
        }

        function Find-SshdKill([string] $Pattern, [int] $WaitSec = 20) {
            # Cuts the deploy's connection from the server side, as a network drop would: finds the process matching
            # the pattern (the build, the reload) and kills the sshd process that serves its connection.
            # The control session's own shell carries AED_KILL_MARK in its command line and is never matched.
            Invoke-Control @'
# AED_KILL_MARK
pattern=$1 deadline=$((SECONDS + $2))
while [ $SECONDS -lt $deadline ]; do
  for p in $(pgrep -u "$(id -u)" -f -- "$pattern"); do
    case "$(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null)" in *AED_KILL_MARK*) continue ;; esac
    q=$p
    while [ -n "$q" ] && [ "$q" -gt 1 ]; do
      case "$(tr '\0' ' ' < /proc/$q/cmdline 2>/dev/null)" in
        sshd:*) kill -KILL "$q" && { echo "killed sshd $q, which served pid $p"; exit 0; } ;;
      esac
      q=$(ps -o ppid= -p "$q" 2>/dev/null | tr -d ' ')
    done
  done
  sleep 0.1
done
echo "no process matching '$pattern' under an sshd session within $2 s" >&2
exit 1
'@ $Pattern, "$WaitSec"
        }

        # Both workers load every route but the fresh one, so that the first measured deploy does not count their warm-up.
        $warm = Start-AedProbe -Targets $probeSet.Targets -MaxDurationSec 30 -RequestTimeoutMs 10000 -AllowRemote:$allowRemote
        Start-Sleep -Seconds 3
        $null = Stop-AedProbe -Probe $warm
        $script:repairNeeded = $false
        $script:started = [Diagnostics.Stopwatch]::StartNew()
    }

    BeforeEach {
        # A failed rollback leaves what it failed on (mixed workers, PM2's reload lock, a stale cache): not this scenario's.
        if ($script:repairNeeded) { Repair-LiveState }
    }

    AfterAll {
        if ($script:started) { Write-Host "Rehearsals ($Layout) took $([math]::Round($script:started.Elapsed.TotalSeconds)) s" }
        if ($sessions) { $sessions.Values | ForEach-Object { Remove-DeploySession $_ -ErrorAction Ignore } }
        if ($runspaces) { $runspaces | ForEach-Object { $_.Dispose() } }
        if ($rig) { Stop-AedRig -Rig $rig }
    }

    It 'Should change nothing, not even reload, when the ref does not exist' {
        $before = Get-LiveState
        $run = Invoke-Rehearsal -Ref 'rehearsal-no-such-ref'
        # InPlace resolves the ref in a Fetch phase of its own, before the Build resets the live checkout.
        Assert-Rehearsal $run -Outcome Failed -FailedPhase $(if ($inPlace) { 'Fetch' } else { 'Build' }) -ErrorId BuildRefNotFound -Before $before
        $run.Record.Phases.Name | Should -Not -Contain 'Rollback' -Because 'nothing was changed, so nothing is rolled back'
    }

    # A release broken on purpose, and where each layout stops it (phase/error id): the Release layout before the
    # live workers see it (at the build, or at the boot test on a spare port); the InPlace layout at the build, the
    # reload or the health check, after which it restores the backup.
    $badReleases = @(
        @{ Change = 'TypeScriptError'; Case = 'the build fails on a TypeScript error'; ReleaseStop = 'Build/BuildFailed'; InPlaceStop = 'Build/BuildFailed' }
        @{ Change = 'BadDependency'; Case = 'a dependency cannot be installed'; ReleaseStop = 'Build/DependencyInstallFailed'; InPlaceStop = 'Build/DependencyInstallFailed' }
        @{ Change = 'BrokenEcosystem'; Case = 'the ecosystem file is broken'; ReleaseStop = 'BootTest/BootTestFailed'; InPlaceStop = 'Reload/Pm2ReloadFailed' }
        @{ Change = 'CrashAtBoot'; Case = 'the app exits at boot (PM2 crash loop)'; ReleaseStop = 'BootTest/BootTestFailed'; InPlaceStop = 'Reload/Pm2ReloadUnhealthy' }
        @{ Change = 'Answer500'; Case = 'the app answers 500 while PM2 says online'; ReleaseStop = 'BootTest/BootTestFailed'; InPlaceStop = 'Health/AppUnhealthy' }
        @{ Change = 'SlowHealth'; Case = 'the health endpoint is too slow'; ReleaseStop = 'BootTest/BootTestFailed'; InPlaceStop = 'Health/AppUnhealthy' }
    )

    It 'Should keep the old version serving when <Case>' -ForEach $badReleases {
        $ref = Get-NextRef $Change
        if (-not $ref) { Set-ItResult -Skipped -Because "the configuration names no $Change ref" }
        $phase, $errorId = $(if ($inPlace) { $InPlaceStop } else { $ReleaseStop }) -split '/'
        $before = Get-LiveState
        $run = Invoke-Rehearsal -Ref $ref
        Assert-Rehearsal $run -Outcome $(if ($inPlace) { 'RolledBack' } else { 'Failed' }) -FailedPhase $phase -ErrorId $errorId -Before $before -Bounded:$inPlace
    }

    It 'Should deploy the next version after the failures above, and warn that the app still sees an env key the ecosystem file dropped' {
        $ref = Get-NextRef RemoveEnvKey
        if (-not $ref) { Set-ItResult -Skipped -Because 'the configuration names no RemoveEnvKey ref' }
        $before = Get-LiveState
        $run = Invoke-Rehearsal -Ref $ref
        Assert-Rehearsal $run -Outcome Succeeded -Before $before -NewVersion -Bounded:$inPlace
        # PM2's reload --update-env never removes a key: the app still sees it, and the deploy must say so.
        if ($rig) { (Get-LiveState).FeatureFlag | Should -Be 'on' }
        ($run.Warnings | Where-Object { $_ -match [regex]::Escape($removedEnvKey) }) | Should -Not -BeNullOrEmpty -Because "the deploy warns that $removedEnvKey is still set (warnings: $($run.Warnings -join ' | '))"
    }

    # The lock (here) and the cache purge (nginx -t, below) are the same code in both layouts, before and after the
    # part that differs: they are rehearsed on the Release layout (or the configured one) only, for the time budget.
    if (-not $SkipShared) {
    It 'Should let exactly one of two deploys started at once run, and refuse the other with DeployLocked' {
        $first = Get-NextRef
        $firstVersion = $script:lastVersion
        $second = Get-NextRef
        $secondVersion = $script:lastVersion
        if (-not $first) { Set-ItResult -Skipped -Because 'the configuration names no Good ref' }
        $before = Get-LiveState
        $startSecond = {
            $ps2 = New-DeployPowerShell -Ref $second -Slot 1
            $out2 = [Management.Automation.PSDataCollection[psobject]]::new()
            $in2 = [Management.Automation.PSDataCollection[psobject]]::new(); $in2.Complete()
            $async2 = $ps2.BeginInvoke($in2, $out2)
            {
                $null = $async2.AsyncWaitHandle.WaitOne(420000)
                try { $null = $ps2.EndInvoke($async2) } catch { }
                $ps2.Dispose()
                $out2 | Where-Object { $_.GetType().FullName -eq 'AedDeploy.DeploymentRecord' } | Select-Object -Last 1
            }.GetNewClosure()
        }
        $run = Invoke-Rehearsal -Ref $first -Concurrent $startSecond
        $records = @($run.Record, $run.Other)
        Write-Host $run.Text
        @($records.Outcome | ForEach-Object ToString | Sort-Object) | Should -Be @('Failed', 'Succeeded') -Because "one deploy wins ($($records | ForEach-Object { "$($_.Outcome) $($_.ErrorId) $($_.Reason)" }))"
        $loser = $records | Where-Object Outcome -eq 'Failed'
        $winner = $records | Where-Object Outcome -eq 'Succeeded'
        $loser.FailedPhase | Should -Be 'Lock'
        $loser.ErrorId | Should -Be 'DeployLocked'
        $loser.Reason | Should -Match ([regex]::Escape($winner.Id))
        Test-Locked | Should -BeFalse
        @(Get-DeployHistory -Session $sessions.Control @app -Last 2).Id | Sort-Object | Should -Be @($records.Id | Sort-Object)
        $script:lastVersion = if ($winner.Ref -eq $first) { $firstVersion } else { $secondVersion }
        (Get-LiveState).BuildId | Should -Be $winner.ToBuildId
        if ($rig) { (Get-LiveState).Version | Should -Be $script:lastVersion }
        $run.Probe.Failed | Should -Be 0 -Because $run.Text
    }
    }

    It 'Should keep the old version serving, release the lock and write the history on Ctrl+C during the build' {
        $ref = Get-NextRef
        if (-not $ref) { Set-ItResult -Skipped -Because 'the configuration names no Good ref' }
        $before = Get-LiveState
        $run = Invoke-Rehearsal -Ref $ref -Trigger @{ Pattern = '\$ build-app\.sh '; DelayMs = 3000; Action = { param($line, $ps) $ps.BeginStop($null, $null) } }
        $run.State | Should -Be 'Stopped'
        Assert-Rehearsal $run -Outcome $(if ($inPlace) { 'RolledBack' } else { 'Failed' }) -FailedPhase Build -ErrorId DeployCancelled -Before $before -Bounded:$inPlace
    }

    It 'Should keep the old version serving, release the lock and write the history when the connection drops during the build' {
        $ref = Get-NextRef
        if (-not $ref) { Set-ItResult -Skipped -Because 'the configuration names no Good ref' }
        $before = Get-LiveState
        $run = Invoke-Rehearsal -Ref $ref -Trigger @{ Pattern = '\$ build-app\.sh '; DelayMs = 2000; Action = { Find-SshdKill 'next build' } }
        Write-Host "cut: $($run.Triggered.Result)"
        $run.Triggered.Count | Should -Be 1
        Assert-Rehearsal $run -Outcome $(if ($inPlace) { 'RolledBack' } else { 'Failed' }) -FailedPhase Build -ErrorId SshConnectionLost -Before $before -Bounded:$inPlace
        # Reconnecting ended what the lost connection left running: no build goes on behind the deploy's back.
        (Invoke-Control 'pgrep -u "$(id -u)" -f "[n]ext build" | wc -l').Trim() | Should -Be '0'
    }

    if (-not $SkipShared) {
    It 'Should roll back when nginx -t fails at the cache purge (-StrictCachePurge), and leave nginx running' {
        if (-not $nginxConfPath) { Set-ItResult -Skipped -Because 'the configuration names no NginxConfPath the deploy user may change' }
        $ref = Get-NextRef
        if (-not $ref) { Set-ItResult -Skipped -Because 'the configuration names no Good ref' }
        $before = Get-LiveState
        # A real broken configuration: nginx -t fails on it, and the running nginx keeps the one it loaded.
        Invoke-Control 'cp -p -- "$1" "$1.rehearsal-backup" && printf "\nrehearsal_not_a_directive on;\n" >> "$1"' $nginxConfPath | Out-Null
        try {
            $run = Invoke-Rehearsal -Ref $ref -Extra @{ StrictCachePurge = $true }
        }
        finally {
            Invoke-Control 'mv -f -- "$1.rehearsal-backup" "$1"' $nginxConfPath | Out-Null
        }
        Assert-Rehearsal $run -Outcome RolledBack -FailedPhase CachePurge -ErrorId NginxCacheClearFailed -Before $before
    }
    }

    It 'Should roll back, release the lock and write the history on Ctrl+C during the reload' {
        $ref = Get-NextRef
        if (-not $ref) { Set-ItResult -Skipped -Because 'the configuration names no Good ref' }
        $before = Get-LiveState
        $run = Invoke-Rehearsal -Ref $ref -Extra @{ SkipBootTest = $true } -Trigger @{ Pattern = '^Phase Reload\.$'; DelayMs = 1500; Action = { param($line, $ps) $ps.BeginStop($null, $null) } }
        $run.State | Should -Be 'Stopped'
        Assert-Rehearsal $run -Outcome RolledBack -FailedPhase Reload -ErrorId DeployCancelled -Before $before -Bounded:$inPlace
    }

    It 'Should roll back, release the lock and write the history when the connection drops during the reload' {
        $ref = Get-NextRef
        if (-not $ref) { Set-ItResult -Skipped -Because 'the configuration names no Good ref' }
        $before = Get-LiveState
        $run = Invoke-Rehearsal -Ref $ref -Extra @{ SkipBootTest = $true } -Trigger @{ Pattern = '^Phase Reload\.$'; DelayMs = 0; Action = { Find-SshdKill 'pm2 reload' } }
        Write-Host "cut: $($run.Triggered.Result)"
        $run.Triggered.Count | Should -Be 1
        Assert-Rehearsal $run -Outcome RolledBack -FailedPhase Reload -ErrorId SshConnectionLost -Before $before -Bounded:$inPlace
    }


    # The fault matrix (issue 11): an unexpected exception injected into every phase of the layout, and a dropped
    # connection and a Ctrl+C-like cancel into the phases where they hurt most, with -FaultInjection on one good
    # version. Before the first live-touching phase the deploy must fail with nothing changed; from it on it must
    # roll back; either way the target is left consistent (current = the workers' folder, the live release
    # Verified, the lock free) with a history entry naming the fault. One real build serves the whole matrix: the
    # outcome of a fault in a later phase does not depend on how the release's .next was made, so every scenario
    # after the first copies that build's .next (validated and boot-tested like any other) instead of building it.
    $matrixPhases = if ($Layout -eq 'InPlace') {
        [ordered]@{ Preflight = 'Failed'; Lock = 'Failed'; Backup = 'Failed'; Fetch = 'Failed'; Build = 'RolledBack'; Validate = 'RolledBack'; Reload = 'RolledBack'; Health = 'RolledBack'; CachePurge = 'RolledBack' }
    }
    else {
        [ordered]@{
            Preflight = 'Failed'; Lock = 'Failed'; Backup = 'Failed'; Build = 'Failed'; Validate = 'Failed'; CarryStatic = 'Failed'; BootTest = 'Failed'
            Switch = 'RolledBack'; Reload = 'RolledBack'; Health = 'RolledBack'; CachePurge = 'RolledBack'; Finalize = 'RolledBack'
        }
    }
    # Into the phase (s) for the drop and the cancel: Switch is one rename, so its fault strikes at its start.
    $faultDelays = @{ Build = 2; Switch = 0; Reload = 1; Health = 1 }
    $faultMatrix = @(
        foreach ($phase in $matrixPhases.Keys) { @{ Phase = $phase; Kind = 'Exception'; DelaySec = 0; Outcome = $matrixPhases[$phase]; ErrorId = 'UnexpectedFailure' } }
        foreach ($kind in 'ConnectionDrop', 'Cancel') {
            foreach ($phase in $faultDelays.Keys | Where-Object { $matrixPhases.Contains($_) } | Sort-Object { @($matrixPhases.Keys).IndexOf($_) }) {
                @{ Phase = $phase; Kind = $kind; DelaySec = $faultDelays[$phase]; Outcome = $matrixPhases[$phase]; ErrorId = $(if ($kind -eq 'Cancel') { 'DeployCancelled' } else { 'SshConnectionLost' }) }
            }
        }
    )

    It 'Should end <Outcome> and consistent with <Kind> injected into <Phase> (fault matrix)' -ForEach $faultMatrix {
        if (-not $script:matrixRef) {
            $script:matrixRef = Get-NextRef
            $script:matrixVersion = $script:lastVersion
        }
        if (-not $script:matrixRef) { Set-ItResult -Skipped -Because 'the configuration names no Good ref' }
        $script:lastVersion = $script:matrixVersion
        $extra = @{ FaultInjection = @{ Phase = $Phase; Kind = $Kind; DelaySec = $DelaySec } }
        $touchesBuild = @($matrixPhases.Keys).IndexOf($Phase) -gt @($matrixPhases.Keys).IndexOf('Build') -or ($Phase -eq 'Build' -and $DelaySec -gt 0)
        if ($rig -and $touchesBuild) {
            # The first deploy that gets through the build builds for real and keeps a copy of its .next for the rest.
            $extra.BuildCommand = if ($script:matrixBuilt) { 'rm -rf .next && cp -a "$HOME/aed-matrix-next" .next' }
            else { 'npm run build && rm -rf "$HOME/aed-matrix-next" && cp -a .next "$HOME/aed-matrix-next"' }
        }
        $before = Get-LiveState
        $run = Invoke-Rehearsal -Ref $script:matrixRef -Extra $extra
        if ($touchesBuild -and $run.Record.Phases.Name -contains 'Validate') { $script:matrixBuilt = $true }
        $bounded = $inPlace -and ($run.Record.Phases.Name -contains 'Build')
        Assert-Rehearsal $run -Outcome $Outcome -FailedPhase $Phase -ErrorId $ErrorId -Before $before -Bounded:$bounded
        $run.Record.FaultInjection | Should -Match $Phase
        ($run.History | Select-Object -Last 1).FaultInjection | Should -Be $run.Record.FaultInjection -Because 'the history says what was injected'
        if ($Outcome -eq 'Failed') {
            $run.Record.Phases.Name | Should -Not -Contain 'Rollback' -Because 'nothing live had changed'
        }
        else {
            ($run.Record.Phases | Where-Object Name -eq 'Rollback').Outcome | Should -Be 'Succeeded' -Because $run.Text
        }
        if ($Kind -eq 'Exception') { $run.Record.Reason | Should -Match 'InjectedFaultException' }
        Assert-Consistent
    }

    It 'Should deploy the next good version after the interrupted deploys above' {
        $ref = Get-NextRef
        if (-not $ref) { Set-ItResult -Skipped -Because 'the configuration names no Good ref' }
        $before = Get-LiveState
        $run = Invoke-Rehearsal -Ref $ref
        Assert-Rehearsal $run -Outcome Succeeded -Before $before -NewVersion -Bounded:$inPlace
    }
}
