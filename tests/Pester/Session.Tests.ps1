#Requires -Version 7.4
# Sessions and transport against the rig's real sshd: authentication, host-key verification,
# hostile input, timeouts, cancellation, dropped connections, and the local transport.

Describe 'New-DeploySession over SSH' -Tag Integration {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        $rig = Start-AedRig -NoPm2 -NoNginx
        $target = @{ HostName = $rig.HostName; Port = $rig.SshPort; UserName = $rig.UserName }
        $keyed = $target + @{ KeyFilePath = $rig.KeyPath; KnownHostsPath = $rig.KnownHostsPath }

        function Get-RigHostPublicKey([string] $Type) {
            $path = $rig.HostKeyPaths | Where-Object { (ssh-keygen -y -f $_) -like "$Type *" } | Select-Object -First 1
            (ssh-keygen -y -f $path) -split ' ' | Select-Object -First 2
        }
    }
    AfterAll {
        if ($rig) { Stop-AedRig -Rig $rig }
    }

    Context 'Authentication' {
        It 'Should log in with an ed25519 key in OpenSSH format' {
            $session = New-DeploySession @keyed
            try {
                $session.State | Should -Be 'Open'
                $session.HostKeyFingerprint | Should -Be $rig.HostKeyFingerprint
                (Invoke-DeployCommand -Session $session -Command 'whoami').Output.Trim() | Should -Be $rig.UserName
            }
            finally { Remove-DeploySession $session }
        }

        It 'Should log in with an RSA key in PEM format' {
            $session = New-DeploySession @target -KeyFilePath $rig.RsaPemKeyPath -KnownHostsPath $rig.KnownHostsPath
            try { $session.State | Should -Be 'Open' } finally { Remove-DeploySession $session }
        }

        It 'Should log in with an encrypted key and its passphrase' {
            $passphrase = ConvertTo-SecureString $rig.KeyPassphrase -AsPlainText -Force
            $session = New-DeploySession @target -KeyFilePath $rig.EncryptedKeyPath -KeyPassphrase $passphrase -KnownHostsPath $rig.KnownHostsPath
            try { $session.State | Should -Be 'Open' } finally { Remove-DeploySession $session }
        }

        It 'Should say that an encrypted key needs its passphrase' {
            { New-DeploySession @target -KeyFilePath $rig.EncryptedKeyPath -KnownHostsPath $rig.KnownHostsPath } |
                Should -Throw -ErrorId 'SshKeyPassphraseRequired,AedDeploy.Cmdlets.NewDeploySessionCommand'
        }

        It 'Should refuse a wrong passphrase as an invalid key file' {
            $wrong = ConvertTo-SecureString 'not-the-passphrase' -AsPlainText -Force
            { New-DeploySession @target -KeyFilePath $rig.EncryptedKeyPath -KeyPassphrase $wrong -KnownHostsPath $rig.KnownHostsPath } |
                Should -Throw -ErrorId 'SshKeyFileInvalid,AedDeploy.Cmdlets.NewDeploySessionCommand'
        }

        It 'Should log in with a password from a PSCredential' {
            $credential = [pscredential]::new($rig.UserName, (ConvertTo-SecureString $rig.Password -AsPlainText -Force))
            $session = New-DeploySession -HostName $rig.HostName -Port $rig.SshPort -Credential $credential -KnownHostsPath $rig.KnownHostsPath
            try {
                $session.UserName | Should -Be $rig.UserName
                (Invoke-DeployCommand -Session $session -Command 'whoami').Output.Trim() | Should -Be $rig.UserName
            }
            finally { Remove-DeploySession $session }
        }

        It 'Should fail a wrong password as an authentication error, without retrying' {
            $credential = [pscredential]::new($rig.UserName, (ConvertTo-SecureString 'wrong-password' -AsPlainText -Force))
            $verbose = [Collections.Generic.List[string]]::new()
            $err = { New-DeploySession -HostName $rig.HostName -Port $rig.SshPort -Credential $credential -KnownHostsPath $rig.KnownHostsPath -ConnectRetryCount 3 -Verbose 4>&1 |
                    ForEach-Object { $verbose.Add("$_") } } | Should -Throw -ErrorId 'SshAuthenticationFailed,AedDeploy.Cmdlets.NewDeploySessionCommand' -PassThru
            $err.CategoryInfo.Category | Should -Be 'AuthenticationError'
            $err.Exception.Message | Should -Not -Match 'wrong-password'
            $verbose | Should -Not -BeNullOrEmpty
            @($verbose | Where-Object { $_ -match 'attempt \d+ of' }) | Should -BeNullOrEmpty
        }

        It 'Should say what is missing when no key file exists at the path' {
            { New-DeploySession @target -KeyFilePath (Join-Path $TestDrive 'missing_key') -KnownHostsPath $rig.KnownHostsPath } |
                Should -Throw -ErrorId 'SshKeyFileNotFound,AedDeploy.Cmdlets.NewDeploySessionCommand'
        }

        It 'Should ask for a key or a credential when neither is given' {
            { New-DeploySession @target -KnownHostsPath $rig.KnownHostsPath } | Should -Throw -ErrorId 'SshNoCredential,AedDeploy.Cmdlets.NewDeploySessionCommand'
        }
    }

    Context 'Host keys' {
        It 'Should accept a hashed known_hosts entry' {
            $session = New-DeploySession @target -KeyFilePath $rig.KeyPath -KnownHostsPath $rig.HashedKnownHostsPath
            try { $session.HostKeyFingerprint | Should -Be $rig.HostKeyFingerprint } finally { Remove-DeploySession $session }
        }

        It 'Should reach the server through an RSA-only entry although it also has an ed25519 key' {
            $type, $key = Get-RigHostPublicKey 'ssh-rsa'
            $rsaOnly = Join-Path $TestDrive 'known_hosts_rsa'
            "[$($rig.HostName)]:$($rig.SshPort) $type $key" | Set-Content $rsaOnly
            $session = New-DeploySession @target -KeyFilePath $rig.KeyPath -KnownHostsPath $rsaOnly
            try { $session.HostKeyAlgorithm | Should -Be 'ssh-rsa' } finally { Remove-DeploySession $session }
        }

        It 'Should refuse an unknown host, say how to trust it, and write nothing' {
            $empty = Join-Path $TestDrive 'known_hosts_empty'
            Set-Content $empty -Value '' -NoNewline
            $err = { New-DeploySession @target -KeyFilePath $rig.KeyPath -KnownHostsPath $empty } |
                Should -Throw -ErrorId 'SshHostKeyUnknown,AedDeploy.Cmdlets.NewDeploySessionCommand' -PassThru
            $err.CategoryInfo.Category | Should -Be 'SecurityError'
            $err.Exception.Message | Should -BeLike "*$($rig.HostKeyFingerprint)*"
            $err.Exception.Message | Should -BeLike '*-AcceptNewHostKey*'
            (Get-Item $empty).Length | Should -Be 0
        }

        It 'Should refuse a changed host key as a security error with a stable id' {
            $err = { New-DeploySession @target -KeyFilePath $rig.KeyPath -KnownHostsPath $rig.OtherKnownHostsPath -AcceptNewHostKey } |
                Should -Throw -ErrorId 'SshHostKeyMismatch,AedDeploy.Cmdlets.NewDeploySessionCommand' -PassThru
            $err.CategoryInfo.Category | Should -Be 'SecurityError'
            $err.Exception.Message | Should -BeLike '*has changed*'
        }

        It 'Should trust a new host on first use only when asked, and write its key' {
            $fresh = Join-Path $TestDrive 'ssh/known_hosts_tofu'
            $session = New-DeploySession @target -KeyFilePath $rig.KeyPath -KnownHostsPath $fresh -AcceptNewHostKey
            Remove-DeploySession $session
            Get-Content $fresh | Should -Match "^\[$([regex]::Escape($rig.HostName))\]:$($rig.SshPort) ssh-ed25519 "
            # The written entry is enough from now on.
            $again = New-DeploySession @target -KeyFilePath $rig.KeyPath -KnownHostsPath $fresh
            try { $again.HostKeyFingerprint | Should -Be $rig.HostKeyFingerprint } finally { Remove-DeploySession $again }
        }

        It 'Should connect with a pinned fingerprint and no known_hosts entry' {
            $session = New-DeploySession @target -KeyFilePath $rig.KeyPath -KnownHostsPath (Join-Path $TestDrive 'none') -HostKeyFingerprint $rig.HostKeyFingerprint
            try { $session.State | Should -Be 'Open' } finally { Remove-DeploySession $session }
        }

        It 'Should refuse a host whose key does not have the pinned fingerprint' {
            $other = 'SHA256:' + ('A' * 43)
            { New-DeploySession @target -KeyFilePath $rig.KeyPath -KnownHostsPath $rig.KnownHostsPath -HostKeyFingerprint $other } |
                Should -Throw -ErrorId 'SshHostKeyFingerprintMismatch,AedDeploy.Cmdlets.NewDeploySessionCommand'
        }

        It 'Should refuse -HostKeyFingerprint together with -AcceptNewHostKey' {
            { New-DeploySession @keyed -HostKeyFingerprint $rig.HostKeyFingerprint -AcceptNewHostKey } |
                Should -Throw -ErrorId 'HostKeyFingerprintWithAcceptNewHostKey,AedDeploy.Cmdlets.NewDeploySessionCommand'
        }
    }

    Context 'Connection failures' {
        It 'Should retry a refused connection a bounded number of times, then say so' {
            $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
            $listener.Start(); $closedPort = $listener.LocalEndpoint.Port; $listener.Stop()
            $verbose = [Collections.Generic.List[string]]::new()
            { New-DeploySession -HostName 127.0.0.1 -Port $closedPort -UserName $rig.UserName -KeyFilePath $rig.KeyPath -KnownHostsPath $rig.KnownHostsPath `
                    -ConnectRetryCount 2 -ConnectRetryInterval 0.1 -Verbose 4>&1 | ForEach-Object { $verbose.Add("$_") } } |
                Should -Throw -ErrorId 'SshConnectionRefused,AedDeploy.Cmdlets.NewDeploySessionCommand'
            @($verbose | Where-Object { $_ -match 'attempt \d+ of 3' }).Count | Should -Be 2
        }

        It 'Should stop waiting between retries at once on Ctrl+C' {
            $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
            $listener.Start(); $closedPort = $listener.LocalEndpoint.Port; $listener.Stop()
            $ps = New-ModulePowerShell
            $null = $ps.AddCommand('New-DeploySession').AddParameters(@{
                    HostName = '127.0.0.1'; Port = $closedPort; UserName = $rig.UserName; KeyFilePath = $rig.KeyPath
                    KnownHostsPath = $rig.KnownHostsPath; ConnectRetryCount = 5; ConnectRetryInterval = 30
                })
            $async = $ps.BeginInvoke()
            Start-Sleep -Milliseconds 1500
            # The first attempt was refused at once; it is now waiting 30 s before the next one.
            $ps.InvocationStateInfo.State | Should -Be 'Running'
            $watch = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $watch.Elapsed.TotalSeconds | Should -BeLessThan 5
            $async.IsCompleted | Should -BeTrue
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            $ps.Dispose()
        }
    }
}

Describe 'Invoke-DeployCommand over one SSH session' -Tag Integration {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        $rig = Start-AedRig -NoPm2 -NoNginx
        $connect = @{
            HostName = $rig.HostName; Port = $rig.SshPort; UserName = $rig.UserName
            KeyFilePath = $rig.KeyPath; KnownHostsPath = $rig.KnownHostsPath
        }
        $session = New-DeploySession @connect

        function Get-RemoteProcessCount([string] $Pattern) {
            # '[s]shd' matches 'sshd' but not the pgrep command line that contains the pattern.
            $regex = "[$($Pattern[0])]$($Pattern.Substring(1))"
            @(Invoke-AedRigShell -Rig $rig -Command "pgrep -u $($rig.UserName) -f -- '$regex' || true" | Where-Object { $_ }).Count
        }
    }
    AfterAll {
        if ($session) { Remove-DeploySession $session }
        if ($rig) { Stop-AedRig -Rig $rig }
    }

    It 'Should return exit status, output, error and duration without throwing on a non-zero exit' {
        $result = Invoke-DeployCommand -Session $session -Command 'echo out; echo err >&2; exit 3'
        $result.ExitStatus | Should -Be 3
        $result.Succeeded | Should -BeFalse
        $result.Output | Should -Be "out`n"
        $result.Error | Should -Be "err`n"
        $result.HostName | Should -Be $rig.HostName
        $result.Duration | Should -BeGreaterThan ([timespan]::Zero)
    }

    It 'Should raise RemoteCommandFailed on a non-zero exit when asked' {
        { Invoke-DeployCommand -Session $session -Command 'echo broken >&2; exit 4' -ErrorOnNonZeroExit -ErrorAction Stop } |
            Should -Throw -ErrorId 'RemoteCommandFailed,AedDeploy.Cmdlets.InvokeDeployCommandCommand'
    }

    It 'Should stream output lines to Information while the command runs' {
        $null = Invoke-DeployCommand -Session $session -Command 'for i in 1 2 3; do echo line$i; done; echo oops >&2' -InformationVariable info
        @($info | Where-Object { $_.Tags -contains 'AedDeploy.Output' } | ForEach-Object { "$($_.MessageData)" }) | Should -Be @('line1', 'line2', 'line3')
        @($info | Where-Object { $_.Tags -contains 'AedDeploy.Error' } | ForEach-Object { "$($_.MessageData)" }) | Should -Be @('oops')
    }

    It 'Should pass hostile arguments literally: <Name>' -ForEach @(
        @{ Name = 'a branch with a command'; Value = 'main; touch {marker}' }
        @{ Name = 'command substitution'; Value = '$(touch {marker})' }
        @{ Name = 'backticks'; Value = '`touch {marker}`' }
        @{ Name = 'quotes'; Value = "it's `"quoted`" '; touch {marker}; '" }
        @{ Name = 'a newline'; Value = "x`ntouch {marker}" }
    ) {
        $marker = "/tmp/aed-pwned-$([guid]::NewGuid().ToString('N'))"
        $text = $Value.Replace('{marker}', $marker)
        $result = Invoke-DeployCommand -Session $session -Command 'printf %s "$1"' -ArgumentList $text
        $result.Output | Should -BeExactly $text
        Test-Path $marker | Should -BeFalse
    }

    It 'Should not run a command under -WhatIf' {
        $marker = "/tmp/aed-whatif-$([guid]::NewGuid().ToString('N'))"
        Invoke-DeployCommand -Session $session -Command "touch $marker" -WhatIf | Should -BeNullOrEmpty
        Test-Path $marker | Should -BeFalse
    }

    It 'Should stop a command at its timeout and end the whole process group on the server' {
        $tag = "aedtimeout$(Get-Random)"
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $err = { Invoke-DeployCommand -Session $session -Command "bash -c 'sleep 300; : $tag' & sleep 301; : $tag" -Timeout 1 } |
            Should -Throw -ErrorId 'RemoteCommandTimeout,AedDeploy.Cmdlets.InvokeDeployCommandCommand' -PassThru
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 10
        $err.CategoryInfo.Category | Should -Be 'OperationTimeout'
        Start-Sleep -Milliseconds 500
        Get-RemoteProcessCount $tag | Should -Be 0
        $session.State | Should -Be 'Open'
    }

    It 'Should cancel a running command promptly on Ctrl+C and kill it on the server' {
        $tag = "aedcancel$(Get-Random)"
        $ps = New-ModulePowerShell
        $null = $ps.AddCommand('Invoke-DeployCommand').AddParameters(@{ Session = $session; Command = "sleep 120; : $tag" })
        $async = $ps.BeginInvoke()
        Start-Sleep -Seconds 1
        Get-RemoteProcessCount $tag | Should -BeGreaterThan 0
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $ps.Stop()
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 5
        $async.IsCompleted | Should -BeTrue
        $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        $ps.Dispose()
        Start-Sleep -Milliseconds 500
        Get-RemoteProcessCount $tag | Should -Be 0
        (Invoke-DeployCommand -Session $session -Command 'echo still-usable').Output.Trim() | Should -Be 'still-usable'
    }

    It 'Should reuse one connection for many commands' {
        $before = Get-RemoteProcessCount 'sshd:'
        1..20 | ForEach-Object { Invoke-DeployCommand -Session $session -Command 'true' } | Out-Null
        Get-RemoteProcessCount 'sshd:' | Should -Be $before
    }

    It 'Should report a connection dropped mid-command and mark the session disconnected' {
        $dropping = New-DeploySession @connect
        $ps = New-ModulePowerShell
        $null = $ps.AddCommand('Invoke-DeployCommand').AddParameters(@{ Session = $dropping; Command = 'sleep 60' })
        $async = $ps.BeginInvoke()
        Start-Sleep -Seconds 1
        # Kill the server side of that one connection: the rig sshd's process serving the 'sleep 60' session.
        $connectionPid = Invoke-AedRigShell -Rig $rig -Command "ps -o ppid= -p `$(pgrep -u $($rig.UserName) -x sleep | head -n1) | tr -d ' '"
        Stop-Process -Id ([int]"$connectionPid") -Force
        $watch = [Diagnostics.Stopwatch]::StartNew()
        while (-not $async.IsCompleted -and $watch.Elapsed.TotalSeconds -lt 20) { Start-Sleep -Milliseconds 100 }
        $async.IsCompleted | Should -BeTrue
        $ps.HadErrors | Should -BeTrue
        try { $ps.EndInvoke($async) } catch { $caught = $_.Exception.InnerException.ErrorRecord }
        $caught.FullyQualifiedErrorId | Should -BeLike 'SshConnectionLost*'
        $dropping.State | Should -Be 'Disconnected'
        { Invoke-DeployCommand -Session $dropping -Command 'true' } | Should -Throw -ErrorId 'SessionNotOpen,AedDeploy.Cmdlets.InvokeDeployCommandCommand'
        $ps.Dispose()
        Remove-DeploySession $dropping
    }

    Context 'Byte streams through the session' {
        BeforeAll {
            # No cmdlet streams bytes yet: the engine's public RemoteRunner is reached through the session's own type.
            $engine = $session.GetType().Assembly
            $nullLog = $engine.GetType('AedDeploy.Engine.NullDeployLog', $true).GetField('Instance').GetValue($null)
            $runner = $engine.GetType('AedDeploy.Engine.RemoteRunner', $true)::new($session, $nullLog)
            $none = [Threading.CancellationToken]::None

            $uploadPath = Join-Path $TestDrive 'upload.bin'
            $bytes = [byte[]]::new(20MB)
            [Random]::new(13).NextBytes($bytes)
            [IO.File]::WriteAllBytes($uploadPath, $bytes)
            $uploadHash = (Get-FileHash $uploadPath -Algorithm SHA256).Hash.ToLowerInvariant()

            function Invoke-Streamed([scriptblock] $Start) {
                # Engine tasks are awaited here; their exceptions come out of the MethodInvocationException.
                try { (& $Start).GetAwaiter().GetResult() } catch { throw $_.Exception.InnerException }
            }
        }

        It 'Should stream 20 MiB into a command over the session and end its input' {
            $file = [IO.File]::OpenRead($uploadPath)
            try { $result = Invoke-Streamed { $runner.RunWithInputAsync('sha256sum', $file, $none, $null, $null) } }
            finally { $file.Dispose() }
            $result.ExitStatus | Should -Be 0
            ($result.Output -split ' ')[0] | Should -Be $uploadHash
        }

        It 'Should stream 20 MiB of a command''s output into a file with the hash the server computed' {
            $downloadPath = Join-Path $TestDrive 'download.bin'
            $file = [IO.File]::Create($downloadPath)
            try { $result = Invoke-Streamed { $runner.RunToStreamAsync("head -c $(20MB) /dev/urandom | tee >(sha256sum >&2)", $file, $none, $null, $null) } }
            finally { $file.Dispose() }
            $result.ExitStatus | Should -Be 0
            $result.Output | Should -BeExactly ''
            (Get-Item $downloadPath).Length | Should -Be 20MB
            (Get-FileHash $downloadPath -Algorithm SHA256).Hash.ToLowerInvariant() | Should -Be ($result.Error -split ' ')[0]
        }

        It 'Should end an empty input at once' {
            $watch = [Diagnostics.Stopwatch]::StartNew()
            $result = Invoke-Streamed { $runner.RunWithInputAsync('wc -c', [IO.Stream]::Null, $none, [timespan]::FromSeconds(20), $null) }
            $result.Output.Trim() | Should -Be '0'
            $watch.Elapsed.TotalSeconds | Should -BeLessThan 5
        }

        It 'Should give the exit status of a command that stops reading its input early' {
            $file = [IO.File]::OpenRead($uploadPath)
            $watch = [Diagnostics.Stopwatch]::StartNew()
            try { $result = Invoke-Streamed { $runner.RunWithInputAsync('head -c 1000 >/dev/null; exit 7', $file, $none, $null, $null) } }
            finally { $file.Dispose() }
            $result.ExitStatus | Should -Be 7
            $watch.Elapsed.TotalSeconds | Should -BeLessThan 5
            # The session lives on: input still in flight when the command ended must not cost the connection.
            $session.State | Should -Be 'Open'
            (Invoke-DeployCommand -Session $session -Command 'echo still-usable').Output.Trim() | Should -Be 'still-usable'
        }

        It 'Should cancel a command <Name> promptly and end it on the server' -ForEach @(
            @{ Name = 'fed a stream'; Direction = 'In' }
            @{ Name = 'streaming its output'; Direction = 'Out' }
        ) {
            $tag = "aedstream$(Get-Random)"
            $cancel = [Threading.CancellationTokenSource]::new()
            $zero = [IO.FileStream]::new('/dev/zero', 'Open', 'Read')
            try {
                $task = if ($Direction -eq 'In') {
                    $runner.RunWithInputAsync("cat >/dev/null; : $tag", $zero, $cancel.Token, $null, $null)
                }
                else {
                    $runner.RunToStreamAsync("cat /dev/zero; : $tag", [IO.Stream]::Null, $cancel.Token, $null, $null)
                }
                # Running on the server before the cancel: waited for (a loaded machine may take more than a second to
                # open the channel), and a command that ended already says why.
                $deadline = [DateTime]::UtcNow.AddSeconds(15)
                do { Start-Sleep -Milliseconds 250; $running = Get-RemoteProcessCount $tag }
                until ($running -gt 0 -or $task.IsCompleted -or [DateTime]::UtcNow -gt $deadline)
                $task.IsCompleted | Should -BeFalse -Because "the command runs until cancelled ($($task.Status): $($task.Exception.InnerException.Message))"
                $running | Should -BeGreaterThan 0 -Because 'the command runs on the server'
                $watch = [Diagnostics.Stopwatch]::StartNew()
                $cancel.Cancel()
                $caught = $null
                try { $null = $task.GetAwaiter().GetResult() } catch { $caught = $_.Exception.InnerException }
                $watch.Elapsed.TotalSeconds | Should -BeLessThan 8
                $caught | Should -BeOfType ([OperationCanceledException])
            }
            finally { $zero.Dispose(); $cancel.Dispose() }
            Start-Sleep -Milliseconds 500
            Get-RemoteProcessCount $tag | Should -Be 0
            $session.State | Should -Be 'Open'
            (Invoke-DeployCommand -Session $session -Command 'echo still-usable').Output.Trim() | Should -Be 'still-usable'
        }

        It 'Should report a connection dropped mid-stream as SshConnectionLost' {
            $dropping = New-DeploySession @connect
            $droppingRunner = $runner.GetType()::new($dropping, $nullLog)
            $tag = "aeddrop$(Get-Random)"
            $zero = [IO.FileStream]::new('/dev/zero', 'Open', 'Read')
            try {
                $task = $droppingRunner.RunWithInputAsync("cat >/dev/null; : $tag", $zero, $none, $null, $null)
                # The rig sshd's process serving that one connection is the parent of the command's shell (waited for: a
                # loaded machine may take more than a second to start it).
                $deadline = [DateTime]::UtcNow.AddSeconds(15)
                do {
                    Start-Sleep -Milliseconds 250
                    $connectionPid = Invoke-AedRigShell -Rig $rig -Command "p=`$(pgrep -u $($rig.UserName) -f -- '[$($tag[0])]$($tag.Substring(1))' | head -n1); [ -z `"`$p`" ] || ps -o ppid= -p `"`$p`" | tr -d ' '"
                } until ("$connectionPid" -match '^\d+$' -or $task.IsCompleted -or [DateTime]::UtcNow -gt $deadline)
                "$connectionPid" | Should -Match '^\d+$' -Because "the command runs on the server ($($task.Status))"
                Stop-Process -Id ([int]"$connectionPid") -Force
                $caught = $null
                $watch = [Diagnostics.Stopwatch]::StartNew()
                try { $null = $task.GetAwaiter().GetResult() } catch { $caught = $_.Exception.InnerException }
                $watch.Elapsed.TotalSeconds | Should -BeLessThan 20
                $caught.ErrorId | Should -Be 'SshConnectionLost'
                "$($caught.Kind)" | Should -Be 'Connection'
                $dropping.State | Should -Be 'Disconnected'
            }
            finally { $zero.Dispose(); Remove-DeploySession $dropping }
        }
    }

    It 'Should refuse to run on a closed session, and leave it open under -WhatIf' {
        $closing = New-DeploySession @connect
        Remove-DeploySession $closing -WhatIf
        $closing.State | Should -Be 'Open'
        $closing | Remove-DeploySession
        $closing.State | Should -Be 'Closed'
        { Invoke-DeployCommand -Session $closing -Command 'true' } | Should -Throw -ErrorId 'SessionNotOpen,AedDeploy.Cmdlets.InvokeDeployCommandCommand'
    }
}

Describe 'The local transport' -Tag Unit {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        $local = New-DeploySession -Local
    }
    AfterAll {
        if ($local) { Remove-DeploySession $local }
    }

    It 'Should run commands on this machine with arguments passed literally' {
        $local.Transport | Should -Be 'Local'
        $result = Invoke-DeployCommand -Session $local -Command 'printf "%s|%s" "$1" "$(id -un)"' -ArgumentList 'a; b $(c)'
        $result.Output | Should -BeExactly "a; b `$(c)|$([Environment]::UserName)"
    }

    It 'Should stop a local command at its timeout' {
        { Invoke-DeployCommand -Session $local -Command 'sleep 30' -Timeout 0.5 } | Should -Throw -ErrorId 'RemoteCommandTimeout,AedDeploy.Cmdlets.InvokeDeployCommandCommand'
    }
}
