#Requires -Version 7.4
# Integration test of the real-components rig itself: every deploy test stands on it, so it must
# prove each component is really there, reachable the way the module will reach it, and gone after.

Describe 'Test rig, in-place layout' -Tag Integration {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot '../Rig/AedDeployRig.psm1') -Force
        $rig = Start-AedRig -Layout InPlace

        # The system OpenSSH client, strict: a wrong or missing host key must fail, never prompt.
        function Invoke-RigSsh([string] $Command, [string] $KnownHostsPath = $rig.KnownHostsPath) {
            $output = & /usr/bin/ssh -i $rig.KeyPath -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes `
                -o "UserKnownHostsFile=$KnownHostsPath" -o GlobalKnownHostsFile=/dev/null -p $rig.SshPort `
                "$($rig.UserName)@$($rig.HostName)" $Command 2>&1
            [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = @($output | ForEach-Object { "$_" }) }
        }

        function Test-ProcessAlive([int] $Id) {
            $stat = Get-Content -LiteralPath "/proc/$Id/stat" -Raw -ErrorAction Ignore
            $stat -and $stat.Substring($stat.LastIndexOf(')') + 2)[0] -notin 'Z', 'X'
        }
    }

    AfterAll {
        Stop-AedRig -Rig $rig
    }

    It 'runs two PM2 instances online from the checkout' {
        $processes = @(Get-AedRigPm2Process -Rig $rig)
        $processes.Count | Should -Be 2
        $processes.status | Should -Be @('online', 'online')
        $processes.pm_cwd | Should -Be @($rig.LivePath, $rig.LivePath)
        $rig.AppRoot | Should -Be (Join-Path $rig.Home 'app')
    }

    It 'serves the app on its port' {
        $page = Invoke-AedRigHttp -Uri "http://127.0.0.1:$($rig.AppPort)/"
        $page.StatusCode | Should -Be 200
        $page.Body | Should -Match "<p id=""version"">$($rig.Version)</p>"
        (Invoke-AedRigHttp -Uri "http://127.0.0.1:$($rig.AppPort)/dynamic").StatusCode | Should -Be 200
    }

    It 'serves pages through nginx and its cache' {
        $first = Invoke-AedRigHttp -Uri "http://127.0.0.1:$($rig.NginxPort)/dynamic"
        $first.StatusCode | Should -Be 200
        $first.Headers['X-Cache-Status'] | Should -BeIn 'MISS', 'HIT'
        $second = Invoke-AedRigHttp -Uri "http://127.0.0.1:$($rig.NginxPort)/dynamic"
        $second.Headers['X-Cache-Status'] | Should -Be 'HIT'
        $second.Body | Should -Be $first.Body
        (Get-ChildItem -LiteralPath $rig.NginxCachePath -Recurse -File).Count | Should -BeGreaterThan 0
    }

    It 'answers /api/health with the version, the build id on the server and a worker pid' {
        $response = Invoke-AedRigHttp -Uri "http://127.0.0.1:$($rig.NginxPort)/api/health"
        $response.StatusCode | Should -Be 200
        $response.Headers['Cache-Control'] | Should -Be 'no-store'
        $response.Headers['X-App-Version'] | Should -Be $rig.Version
        $response.Headers.Contains('X-Cache-Status') | Should -BeFalse
        $health = $response.Body | ConvertFrom-Json
        $health.version | Should -Be $rig.Version
        $health.buildId | Should -Be (Invoke-AedRigShell -Rig $rig -Command "cat '$($rig.LivePath)/.next/BUILD_ID'")
        $health.pid | Should -BeIn (Get-AedRigPm2Process -Rig $rig).pid
        $health.featureFlag | Should -Be 'on'
    }

    It 'accepts OpenSSH with the ed25519 key against a strict known_hosts, with PM2 on the PATH' {
        $result = Invoke-RigSsh 'echo ok; which pm2; echo "$PM2_HOME"; whoami'
        $result.ExitCode | Should -Be 0 -Because ($result.Output -join "`n")
        $result.Output | Should -Be @('ok', $rig.Pm2Bin, $rig.Pm2Home, $rig.UserName)
    }

    It 'gives Invoke-AedRigShell the same PATH and PM2_HOME as an SSH session' {
        $ssh = (Invoke-RigSsh 'echo "$PATH|$PM2_HOME|$HOME"').Output
        Invoke-AedRigShell -Rig $rig -Command 'echo "$PATH|$PM2_HOME|$HOME"' | Should -Be $ssh
        { Invoke-AedRigShell -Rig $rig -Command 'echo broken >&2; exit 3' } | Should -Throw '*exited with 3: broken*'
    }

    It 'matches the hashed known_hosts entry and rejects the spare host key' {
        (Invoke-RigSsh 'echo ok' -KnownHostsPath $rig.HashedKnownHostsPath).Output | Should -Be 'ok'
        Get-Content -LiteralPath $rig.HashedKnownHostsPath | Should -Match '^\|1\|'
        $changed = Invoke-RigSsh 'echo ok' -KnownHostsPath $rig.OtherKnownHostsPath
        $changed.ExitCode | Should -Not -Be 0
        $changed.Output -join "`n" | Should -Match 'REMOTE HOST IDENTIFICATION HAS CHANGED'
        (& /usr/bin/ssh-keygen -l -E sha256 -f "$($rig.HostKeyPaths[0]).pub") | Should -Match ([regex]::Escape($rig.HostKeyFingerprint))
    }

    It 'lets the deploy user test and reload its nginx over SSH' {
        $test = Invoke-RigSsh $rig.NginxTestCommand
        $test.ExitCode | Should -Be 0 -Because ($test.Output -join "`n")
        (Invoke-RigSsh $rig.NginxReloadCommand).ExitCode | Should -Be 0
        (Wait-AedRigHttp -Uri "http://127.0.0.1:$($rig.NginxPort)/api/health").StatusCode | Should -Be 200
    }

    It 'publishes a new version to origin that the server checkout can fetch' {
        $sha = Publish-AedFixtureVersion -Rig $rig -Version '2'
        $sha | Should -Match '^[0-9a-f]{40}$'
        $sha | Should -Not -Be $rig.Commit
        (& /usr/bin/git ls-remote $rig.OriginPath refs/heads/main) -split '\s+' | Select-Object -First 1 | Should -Be $sha
        & /usr/bin/git -C $rig.WorkTreePath show "${sha}:app/version.ts" | Should -Be "export const APP_VERSION = '2';"
        $fetched = Invoke-RigSsh "cd '$($rig.AppRoot)' && git fetch -q origin && git rev-parse origin/main && git status --porcelain"
        $fetched.ExitCode | Should -Be 0 -Because ($fetched.Output -join "`n")
        $fetched.Output | Should -Be @($sha)
    }

    It 'stops every process it started, deletes its user and removes its root' {
        $before = @(Get-AedRigProcessId -Rig $rig)
        # Workers are left out: the nginx reload above replaced them, and the cache loader exits.
        foreach ($daemon in 'Sshd', 'Pm2Daemon', 'NginxMaster') { $rig.Pids[$daemon] | Should -BeIn $before }
        $before.Count | Should -BeGreaterOrEqual 5

        Stop-AedRig -Rig $rig

        $before | Where-Object { Test-ProcessAlive $_ } | Should -BeNullOrEmpty
        & /usr/bin/getent passwd $rig.UserName | Should -BeNullOrEmpty
        Test-Path -LiteralPath $rig.Root | Should -BeFalse
        { Stop-AedRig -Rig $rig } | Should -Not -Throw
    }
}

Describe 'Test rig, release layout' -Tag Integration {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot '../Rig/AedDeployRig.psm1') -Force
        $rig = Start-AedRig -Layout Release
    }

    AfterAll {
        Stop-AedRig -Rig $rig
    }

    It 'links current to the live release and shares the .env' {
        $rig.LivePath | Should -Be (Join-Path $rig.AppRoot 'current')
        (Get-Item -LiteralPath $rig.LivePath).LinkTarget | Should -Be $rig.ReleasePath
        Split-Path $rig.ReleasePath | Should -Be (Join-Path $rig.AppRoot 'releases')
        (Get-Item -Force -LiteralPath (Join-Path $rig.ReleasePath '.env')).LinkTarget | Should -Be (Join-Path $rig.AppRoot 'shared/.env')
        Test-Path -LiteralPath (Join-Path $rig.AppRoot '.aeddeploy') -PathType Container | Should -BeTrue
    }

    It 'keeps the symlink path as pm_cwd while the workers run in the resolved release' {
        $processes = @(Get-AedRigPm2Process -Rig $rig)
        $processes.Count | Should -Be 2
        $processes.status | Should -Be @('online', 'online')
        $processes.pm_cwd | Should -Be @("$($rig.AppRoot)/current", "$($rig.AppRoot)/current")
        foreach ($id in $processes.pid) {
            (Get-Item -LiteralPath "/proc/$id/cwd").LinkTarget | Should -Be $rig.ReleasePath
        }
    }

    It 'serves the release through nginx' {
        $health = (Wait-AedRigHttp -Uri "http://127.0.0.1:$($rig.NginxPort)/api/health").Body | ConvertFrom-Json
        $health.version | Should -Be $rig.Version
        $health.buildId | Should -Be (Get-Content -LiteralPath (Join-Path $rig.ReleasePath '.next/BUILD_ID') -Raw).Trim()
    }
}
