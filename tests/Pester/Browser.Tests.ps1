#Requires -Version 7.4
<#
Issue 12, "zero errors for real browsers": a tab opened before a deploy keeps working after it. Headless Chromium
(Debian's, driven by playwright-core: tests/Rig/AedDeployBrowser.psm1) opens the fixture's home page through the
rig's nginx at version N; version N+1 is deployed under it (Release layout); then, in the same tab, a click loads
the lazy chunk of N (import(), app/lazy/message.ts, whose content changes with every version) and the <Link> to
/dynamic is followed, which must render N+1 by a client-side navigation or a full reload. Asserted as a user sees it:
the lazy chunk's text, the next page's version, no uncaught error, no console error, no failed request and no
answer >= 400 for /_next/ assets or the pages.

The first scenario turns skew protection off (-StaticRetentionReleases 0, the plan without the CarryStatic phase, as
before it existed) and asserts the ChunkLoadError a user then gets: the test can see the failure it guards against.
Each deploy also runs under the prober with the rehearsals' targets (Get-AedProbeTargetSet), whose static chunk is the
live page's own, found by content: the previous version's once the deploy switched. The last scenario opens the tab
on a version whose deploy then fails and is rolled back: the restored version must serve that tab's chunks too.
#>

BeforeDiscovery {
    # In order: each one opens the tab on the version the one before deployed. Two deploys with a deployment id, so
    # that the last one goes from a version with an id to a version with another (the steady state).
    $withSkewProtection = @(
        @{ Name = 'without -DeploymentId'; DeploymentId = $null }
        @{ Name = 'with -DeploymentId, from a version that had none'; DeploymentId = 'first' }
        @{ Name = 'with -DeploymentId, from a version that had one'; DeploymentId = 'second' }
    )
}

Describe 'A browser tab open across a Release deploy' -Tag Integration {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        Import-Module (Join-Path $PSScriptRoot '../Rig/AedDeployBrowser.psm1') -Force
        Import-Module (Join-Path $PSScriptRoot '../Rig/AedDeployProbe.psm1') -Force
        $rig = $null
        $session = $null
        $browser = $null
        $rig = Start-AedRig -Layout Release -Browser
        $session = New-RigSession $rig
        $browser = Start-AedBrowser
        Write-Host "Chromium $($browser.Version) (driver pid $($browser.DriverPid), browser pid $($browser.BrowserPid))"
        $nginx = "http://127.0.0.1:$($rig.NginxPort)"
        $script:liveVersion = [int]$rig.Version
        $script:previousDeploymentId = $null

        function Invoke-TabAcrossDeploy([hashtable] $Extra = @{}) {
            # Opens the tab at the live version, deploys the next one under the prober (the rehearsals' targets, with the
            # live page's own chunk: the previous version's once the deploy switched), then clicks and follows the link
            # in that tab.
            $from = $script:liveVersion
            $to = $from + 1
            $opened = Invoke-AedBrowser -Browser $browser -Command @{ op = 'open'; url = "$nginx/"; selectors = @('#version', '#client-version') }
            $openedHtml = (Invoke-AedBrowser -Browser $browser -Command @{ op = 'html' }).html
            $null = Publish-AedFixtureVersion -Rig $rig -Version "$to" -Branch "v$to"
            $probeSet = Get-AedProbeTargetSet -Rig $rig -FreshPath ''
            $probe = Start-AedProbe -Targets $probeSet.Targets -IntervalMs 200 -MaxDurationSec 600
            try {
                $clock = [Diagnostics.Stopwatch]::StartNew()
                $record = Invoke-RigDeploy -Rig $rig -Session $session -Layout Release -Ref "v$to" -Extra $Extra
                $deploySeconds = $clock.Elapsed.TotalSeconds
            }
            finally { $probed = Stop-AedProbe -Probe $probe }
            $staticTargets = @($probed.Targets | Where-Object Target -like '*:static')
            if ($record.Outcome -eq 'Succeeded') { $script:liveVersion = $to }
            $lazy = Invoke-AedBrowser -Browser $browser -Command @{
                op = 'click'; selector = '#load-lazy'; waitFor = @('#lazy-message', '#lazy-failure'); selectors = @('#lazy-message', '#lazy-failure')
            }
            $followed = Invoke-AedBrowser -Browser $browser -Command @{ op = 'click'; selector = '#to-dynamic'; path = '/dynamic'; waitFor = @('#time'); selectors = @('#version') }
            $dynamicHtml = (Invoke-AedBrowser -Browser $browser -Command @{ op = 'html' }).html
            $problems = Invoke-AedBrowser -Browser $browser -Command @{ op = 'problems' }
            $result = [pscustomobject]@{
                From          = "$from"
                To            = "$to"
                Record        = $record
                DeploySeconds = [math]::Round($deploySeconds, 1)
                Opened        = $opened.texts
                OpenedHtml    = $openedHtml
                Lazy          = $lazy.texts
                Followed      = $followed
                DynamicHtml   = $dynamicHtml
                Problems      = $problems
                StaticChunk   = $probeSet.StaticChunk
                StaticSent    = ($staticTargets | Measure-Object -Sum Sent).Sum
                StaticFailed  = ($staticTargets | Measure-Object -Sum Failed).Sum
                # What a user would notice: the page's assets and documents failing, an error, a request that failed.
                Failures      = @(
                    $problems.pageErrors | ForEach-Object { "pageerror: $_" }
                    # Chromium asks every site for /favicon.ico on its own, and logs the fixture's 404 for it: not the app's doing.
                    $problems.consoleErrors | Where-Object { $_ -notmatch '/favicon\.ico\)$' } | ForEach-Object { "console: $_" }
                    $problems.failedRequests | ForEach-Object { "requestfailed: $_" }
                    $problems.badResponses | Where-Object { $_ -match '^\d+ https?://[^/]+/(_next/|dynamic|\?|$)' } | ForEach-Object { "response: $_" }
                )
            }
            $carry = $record.Phases | Where-Object Name -eq 'CarryStatic'
            Write-Host ("v$from -> v$to $($record.Outcome) in $($result.DeploySeconds) s; phases: " + (($record.Phases | ForEach-Object { "$($_.Name) $([math]::Round($_.Duration.TotalSeconds, 2))s" }) -join ', '))
            Write-Host "  CarryStatic: $(if ($carry) { $carry.Detail } else { 'not run' })"
            Write-Host "  probe: $($probed.Sent) sent, $($probed.Failed) failed; the previous version's page chunk $($probeSet.StaticChunk): $($result.StaticFailed) of $($result.StaticSent) failed $(($staticTargets | Where-Object Failed | ForEach-Object { "($($_.Target): $($_.Failures))" }) -join ' ')"
            Write-Host "  lazy: $($lazy.texts | ConvertTo-Json -Compress); link: $($followed.url) $($followed.texts | ConvertTo-Json -Compress), full loads: $(@($followed.fullLoads).Count)"
            Write-Host "  problems: $(if ($result.Failures) { $result.Failures -join "`n            " } else { 'none' })"
            if ($problems.cancelled) { Write-Host "  cancelled by the page itself (not failures): $($problems.cancelled -join '; ')" }
            $result
        }
    }

    AfterAll {
        if ($browser) { Stop-AedBrowser -Browser $browser }
        if ($session) { Remove-DeploySession -Session $session }
        if ($rig) { Stop-AedRig -Rig $rig }
    }

    It 'Should show the tab a ChunkLoadError without skew protection (-StaticRetentionReleases 0), as before it existed' {
        $run = Invoke-TabAcrossDeploy -Extra @{ StaticRetentionReleases = 0 }

        $run.Record.Outcome | Should -Be 'Succeeded' -Because $script:DeployError
        $run.Record.Phases.Name | Should -Not -Contain 'CarryStatic'
        $run.Opened.'#client-version' | Should -Be "client chunk of version $($run.From)"
        $run.Lazy.'#lazy-message' | Should -BeNullOrEmpty -Because 'the chunk of the version the tab runs is gone'
        $run.Lazy.'#lazy-failure' | Should -Match 'chunk' -Because 'the import() fails as a ChunkLoadError'
        @($run.Problems.badResponses | Where-Object { $_ -match '^404 .*/_next/static/chunks/' }) | Should -Not -BeNullOrEmpty
        $run.StaticFailed | Should -BeGreaterThan 0 -Because 'the prober asks for the previous version''s own chunk, as the tab does'
    }

    It 'Should load the open tab''s lazy chunk and follow its link after a deploy <Name>' -ForEach $withSkewProtection {
        $extra = if ($DeploymentId) { @{ DeploymentId = "$DeploymentId-$($script:liveVersion + 1)" } } else { @{} }
        $previousId = $script:previousDeploymentId
        $run = Invoke-TabAcrossDeploy -Extra $extra
        $script:previousDeploymentId = $extra.DeploymentId

        $run.Record.Outcome | Should -Be 'Succeeded' -Because $script:DeployError
        ($run.Record.Phases | Where-Object Name -eq 'CarryStatic').Detail | Should -Match '^\d+ file\(s\) of ' -Because 'the live release''s files are carried'
        $run.Opened.'#client-version' | Should -Be "client chunk of version $($run.From)"
        $run.Lazy.'#lazy-failure' | Should -BeNullOrEmpty
        $run.Lazy.'#lazy-message' | Should -Be "lazy chunk of version $($run.From)" -Because 'the tab loads the chunk of the version it runs, from the new workers'
        ([uri]$run.Followed.url).AbsolutePath | Should -Be '/dynamic'
        $run.Followed.texts.'#version' | Should -Be $run.To -Because 'the link renders the new version'
        $run.Failures | Should -BeNullOrEmpty
        $run.StaticSent | Should -BeGreaterThan 0
        $run.StaticFailed | Should -Be 0 -Because "the previous version's own chunk $($run.StaticChunk) stays served"
        if ($extra.DeploymentId) {
            # Next puts the id on every asset URL and on the <html> of every page the new workers render.
            $run.DynamicHtml | Should -Match "data-dpl-id=""$($extra.DeploymentId)""|dpl=$($extra.DeploymentId)"
            if ($previousId) {
                $run.OpenedHtml | Should -Match "\?dpl=$previousId"
                # The tab's id no longer matches the server's: Next reloads the page instead of navigating on the client.
                @($run.Followed.fullLoads).Count | Should -BeGreaterThan 0
            }
        }
    }

    It 'Should let a tab opened on a version that was then rolled back load its lazy chunk from the restored version' {
        # The deploy fails 15 s into its Health phase (a stabilisation window of 20 s keeps the phase running): in
        # those seconds the new version serves, and the tab opens on it, straight at the app (nginx's cache still holds
        # the old page until a purge). The rollback must give the restored release the failed one's files first.
        $restored = $script:liveVersion
        $failed = $restored + 1
        $null = Publish-AedFixtureVersion -Rig $rig -Version "$failed" -Branch "v$failed"
        $ps = New-ModulePowerShell
        $null = $ps.AddCommand('Invoke-ZeroDowntimeDeploy').AddParameters(@{
                Session = $session; AppPath = $rig.AppRoot; AppName = $rig.AppName; Ref = "v$failed"; Confirm = $false; Verbose = $true
                HealthUrl = "http://127.0.0.1:$($rig.AppPort)/api/health"; CachePath = $rig.NginxCachePath
                NginxTestCommand = $rig.NginxTestCommand; NginxReloadCommand = $rig.NginxReloadCommand; RetryIntervalSec = 1
                StabilizationSec = 20; FaultInjection = @{ Phase = 'Health'; Kind = 'Exception'; DelaySec = 15 }
            })
        $async = $ps.BeginInvoke()
        try {
            $watch = [Diagnostics.Stopwatch]::StartNew()
            while (-not ($ps.Streams.Verbose | Where-Object Message -eq 'Phase Health.') -and -not $async.IsCompleted -and $watch.Elapsed.TotalSeconds -lt 300) { Start-Sleep -Milliseconds 200 }
            $during = (Get-RigAppHealth $rig).version
            $opened = Invoke-AedBrowser -Browser $browser -Command @{ op = 'open'; url = "http://127.0.0.1:$($rig.AppPort)/"; selectors = @('#client-version') }
            $null = $async.AsyncWaitHandle.WaitOne([TimeSpan]::FromMinutes(5))
            # A deploy that did not succeed ends in a terminating error (DeploymentRolledBack): the outcome is read from the history.
            try { $null = $ps.EndInvoke($async) } catch { Write-Host "The deploy ended with: $($_.Exception.Message)" }
            $carried = ($ps.Streams.Verbose | Where-Object Message -like 'Rollback: *' | Select-Object -Last 1).Message
        }
        finally { $ps.Dispose() }
        Write-Host "  $carried"
        $during | Should -Be "$failed" -Because 'the failed version serves during its health check'
        $opened.texts.'#client-version' | Should -Be "client chunk of version $failed"
        $last = (Get-RigHistory $rig)[-1]
        $last.ref | Should -Be "v$failed"
        $last.outcome | Should -Be 'RolledBack'
        $carried | Should -Match "^Rollback: [1-9]\d* file\(s\) of $($last.toRelease) linked" -Because 'the failed release''s files are carried into the restored one'
        (Get-RigAppHealth $rig).version | Should -Be "$restored"
        $lazy = Invoke-AedBrowser -Browser $browser -Command @{
            op = 'click'; selector = '#load-lazy'; waitFor = @('#lazy-message', '#lazy-failure'); selectors = @('#lazy-message', '#lazy-failure')
        }
        $followed = Invoke-AedBrowser -Browser $browser -Command @{ op = 'click'; selector = '#to-dynamic'; path = '/dynamic'; waitFor = @('#time'); selectors = @('#version') }
        $problems = Invoke-AedBrowser -Browser $browser -Command @{ op = 'problems' }
        Write-Host "v$failed rolled back to v${restored}: lazy $($lazy.texts | ConvertTo-Json -Compress); link $($followed.texts | ConvertTo-Json -Compress); problems $($problems | ConvertTo-Json -Compress -Depth 3)"

        $lazy.texts.'#lazy-failure' | Should -BeNullOrEmpty
        $lazy.texts.'#lazy-message' | Should -Be "lazy chunk of version $failed" -Because 'the restored workers serve the failed version''s chunks, carried before they started'
        $followed.texts.'#version' | Should -Be "$restored"
        @($problems.pageErrors) + @($problems.failedRequests) + @($problems.badResponses | Where-Object { $_ -match '/_next/' }) | Should -BeNullOrEmpty
    }
}
