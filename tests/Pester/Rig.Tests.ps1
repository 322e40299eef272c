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

Describe 'Fleet rig, two hosts behind a load balancer' -Tag Integration {
    BeforeAll {
        # The built module for New-DeploySession, and the rig.
        . (Join-Path $PSScriptRoot 'Common.ps1')
        $fleet = Start-AedFleetRig -Count 2

        function Test-TcpListening([string] $Address, [int] $Port) {
            $client = [Net.Sockets.TcpClient]::new()
            try { $client.Connect($Address, $Port); $true }
            catch [Net.Sockets.SocketException] { $false }
            finally { $client.Dispose() }
        }

        # Listening TCP sockets on 127.A.B.0/24, from /proc/net/tcp (addresses as little-endian hex).
        function Get-FleetListener {
            $octets = $fleet.Network.Split('.')
            $suffix = '{0:X2}{1:X2}{2:X2}' -f [int]$octets[2], [int]$octets[1], [int]$octets[0]
            Get-Content -LiteralPath '/proc/net/tcp' | Select-Object -Skip 1 | ForEach-Object {
                $fields = $_.Trim() -split '\s+'
                $address, $port = $fields[1].Split(':')
                if ($fields[3] -eq '0A' -and $address.Substring(2) -eq $suffix) {
                    "$($fleet.Network).$([Convert]::ToInt32($address.Substring(0, 2), 16)):$([Convert]::ToInt32($port, 16))"
                }
            }
        }

        function Test-ProcessAlive([int] $Id) {
            $stat = Get-Content -LiteralPath "/proc/$Id/stat" -Raw -ErrorAction Ignore
            $stat -and $stat.Substring($stat.LastIndexOf(')') + 2)[0] -notin 'Z', 'X'
        }
    }

    AfterAll {
        Stop-AedFleetRig -Fleet $fleet
    }

    It 'Should put each host and the load balancer on its own address of a block that is not 127.0.0.x' {
        $fleet.Network | Should -Match '^127\.\d{1,3}\.\d{1,3}$'
        $fleet.Network | Should -Not -Be '127.0.0'
        $fleet.LoadBalancer.HostName | Should -Be "$($fleet.Network).1"
        $fleet.Hosts.HostName | Should -Be @("$($fleet.Network).2", "$($fleet.Network).3")
        $fleet.Hosts[1].OriginPath | Should -Be $fleet.Hosts[0].OriginPath
        $fleet.Hosts[1].Commit | Should -Be $fleet.Commit
    }

    It 'Should serve each host''s own workers on its own address only, nothing on 127.0.0.1' {
        foreach ($h in $fleet.Hosts) {
            $workers = @(Get-AedRigPm2Process -Rig $h)
            $workers.status | Should -Be @('online', 'online')
            foreach ($port in $h.AppPort, $h.NginxPort) {
                $health = (Invoke-AedRigHttp -Uri "http://$($h.HostName):$port/api/health").Body | ConvertFrom-Json
                $health.version | Should -Be $fleet.Version
                $health.pid | Should -BeIn $workers.pid
            }
            foreach ($port in $h.AppPort, $h.NginxPort, $h.SshPort) {
                Test-TcpListening $h.HostName $port | Should -BeTrue
                Test-TcpListening '127.0.0.1' $port | Should -BeFalse -Because "port $port is $($h.HostName)'s only"
            }
        }
    }

    It 'Should spread requests through the load balancer over both hosts'' nginx' {
        $upstreams = 1..6 | ForEach-Object {
            $response = Invoke-AedRigHttp -Uri "$($fleet.LoadBalancerUrl)/api/health"
            $response.StatusCode | Should -Be 200
            $response.Headers['X-Upstream']
        }
        $upstreams | Sort-Object -Unique | Should -Be ($fleet.Hosts | ForEach-Object { "$($_.HostName):$($_.NginxPort)" } | Sort-Object)
        foreach ($h in $fleet.Hosts) {
            # The load balancer binds its own address for upstream connections, so each host's log names it.
            Get-Content -LiteralPath (Join-Path $h.NginxPrefix 'logs/access.log') |
                Where-Object { $_.StartsWith("$($fleet.LoadBalancer.HostName) ") } | Should -Not -BeNullOrEmpty
        }
    }

    It 'Should accept an SSH session on each host''s own address, as its own user' {
        foreach ($h in $fleet.Hosts) {
            $session = New-RigSession $h
            try {
                $lines = (Invoke-DeployCommand -Session $session -Command 'whoami; echo "$SSH_CONNECTION"').Output.Trim() -split "`n"
                $lines[0] | Should -Be $h.UserName
                ($lines[1] -split ' ')[2, 3] | Should -Be @($h.HostName, "$($h.SshPort)")
            }
            finally { Remove-DeploySession $session }
        }
        $fleet.Hosts[0].UserName | Should -Not -Be $fleet.Hosts[1].UserName
    }

    It 'Should run beside a second fleet rig, each on its own address block, origin and hosts' {
        $other = Start-AedFleetRig -Count 1
        try {
            $other.Network | Should -Not -Be $fleet.Network -Because 'each fleet reserves its own 127.A.B block'
            $other.OriginPath | Should -Not -Be $fleet.OriginPath
            $other.Hosts[0].UserName | Should -Not -BeIn $fleet.Hosts.UserName
            $answer = Invoke-AedRigHttp -Uri "$($other.LoadBalancerUrl)/api/health"
            $answer.StatusCode | Should -Be 200
            $answer.Headers['X-Upstream'] | Should -Be "$($other.Hosts[0].HostName):$($other.Hosts[0].NginxPort)"
            foreach ($i in 1..4) {
                (Invoke-AedRigHttp -Uri "$($fleet.LoadBalancerUrl)/api/health").Headers['X-Upstream'] | Should -BeLike "$($fleet.Network).*" -Because 'the first fleet still reaches only its own hosts'
            }
        }
        finally { Stop-AedFleetRig -Fleet $other }
        foreach ($rig in @($other.LoadBalancer) + @($other.Hosts)) { Test-Path -LiteralPath $rig.Root | Should -BeFalse }
        (Invoke-AedRigHttp -Uri "$($fleet.LoadBalancerUrl)/api/health").StatusCode | Should -Be 200 -Because 'stopping one fleet leaves the other running'
    }

    It 'Should stop every process of the fleet and leave no address of it bound' {
        $before = @(Get-AedRigProcessId -Rig $fleet.LoadBalancer) + @($fleet.Hosts | ForEach-Object { Get-AedRigProcessId -Rig $_ })
        $fleet.LoadBalancer.Pids['NginxMaster'] | Should -BeIn $before
        foreach ($h in $fleet.Hosts) { foreach ($daemon in 'Sshd', 'Pm2Daemon', 'NginxMaster') { $h.Pids[$daemon] | Should -BeIn $before } }
        $listening = @(Get-FleetListener)
        "$($fleet.LoadBalancer.HostName):$($fleet.LoadBalancer.NginxPort)" | Should -BeIn $listening
        foreach ($h in $fleet.Hosts) { foreach ($port in $h.SshPort, $h.AppPort, $h.NginxPort) { "$($h.HostName):$port" | Should -BeIn $listening } }

        Stop-AedFleetRig -Fleet $fleet

        $before | Where-Object { Test-ProcessAlive $_ } | Should -BeNullOrEmpty
        Get-FleetListener | Should -BeNullOrEmpty
        foreach ($h in $fleet.Hosts) {
            & /usr/bin/getent passwd $h.UserName | Should -BeNullOrEmpty
            Test-Path -LiteralPath $h.Root | Should -BeFalse
        }
        Test-Path -LiteralPath $fleet.LoadBalancer.Root | Should -BeFalse
        { Stop-AedFleetRig -Fleet $fleet } | Should -Not -Throw
    }
}
