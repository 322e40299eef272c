#Requires -Version 7.4
# Initialize-DeployTarget against the rig: a first release at a new path, the one-time move of a PM2 app
# to <app>/current (under probe load: no request refused; and when the new workers cannot start, the old app
# untouched), and the refusal to turn an InPlace checkout into a Release layout.

Describe 'Initialize-DeployTarget' -Tag Integration {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        # PM2 runs nothing yet: each test starts the app itself.
        $rig = Start-AedRig -Layout Release -NoPm2 -NoNginx
        $session = New-RigSession $rig
        $newRoot = "$($rig.Home)/app2"
        $shippedPreload = Get-Content -Raw (Join-Path $PSScriptRoot '../../src/AedDeploy.Engine/Engine/Scripts/ready-preload.cjs')
        Import-Module (Join-Path $PSScriptRoot '../Rig/AedDeployProbe.psm1') -Force
        function Get-Pm2AppName {
            # Every app name PM2 runs, once per instance: the rig's helper lists only the rig's app.
            Invoke-AedRigShell -Rig $rig -Command "pm2 jlist --silent | node -e 'for (const p of JSON.parse(require(""fs"").readFileSync(0))) console.log(p.name)'"
        }
    }
    AfterAll {
        if ($session) { Remove-DeploySession $session }
        if ($rig) { Stop-AedRig -Rig $rig }
    }

    It 'Should refuse to turn an InPlace checkout into the Release layout, and change nothing' {
        $checkout = "$($rig.Home)/checkout"
        Invoke-AedRigShell -Rig $rig -Command "git init -q '$checkout'" | Out-Null
        { Initialize-DeployTarget -Session $session -AppPath $checkout -AppName $rig.AppName -Confirm:$false } |
            Should -Throw -ErrorId 'InitializeFailed,AedDeploy.Cmdlets.InitializeDeployTargetCommand'
        Invoke-AedRigShell -Rig $rig -Command "ls -A '$checkout'" | Should -Be '.git'
    }

    It 'Should ask for the repository when there is no release to start from' {
        { Initialize-DeployTarget -Session $session -AppPath "$($rig.Home)/empty" -AppName $rig.AppName -Confirm:$false } |
            Should -Throw -ErrorId 'RepositoryRequired,AedDeploy.Cmdlets.InitializeDeployTargetCommand'
    }

    It 'Should build a first release at a new path and start the app from its current link' {
        # The server-specific .env the app's ecosystem reads, as an operator would put it in shared/.
        Invoke-AedRigShell -Rig $rig -Command (
            "mkdir -p '$newRoot/shared' && sed -e 's#$($rig.AppRoot)#$newRoot#g' '$($rig.AppRoot)/shared/.env' > '$newRoot/shared/.env' && " +
            "echo 'READY_PRELOAD=$newRoot/.aeddeploy/ready-preload.cjs' >> '$newRoot/shared/.env'") | Out-Null
        $live = Initialize-DeployTarget -Session $session -AppPath $newRoot -AppName $rig.AppName -Repository $rig.OriginUrl -Confirm:$false
        $live.IsLive | Should -BeTrue
        $live.IsRollbackTarget | Should -BeTrue
        $live.Commit | Should -Be $rig.Commit
        Invoke-AedRigShell -Rig $rig -Command "cat '$newRoot/.aeddeploy/ready-preload.cjs'" | Out-String | Should -Be ($shippedPreload.TrimEnd() + "`n")
        $processes = @(Get-AedRigPm2Process -Rig $rig)
        $processes.Count | Should -Be 2
        $processes.status | Sort-Object -Unique | Should -Be 'online'
        $processes.pm_cwd | Sort-Object -Unique | Should -Be "$newRoot/current"
        (Get-RigAppHealth $rig).version | Should -Be $rig.Version
    }

    It 'Should leave the old app serving, untouched, when the workers started from current cannot come up' {
        # The release's .env (shared/.env) points the workers at a preload that is not there: every worker
        # started from current dies at boot, while the app PM2 runs from app2/current keeps serving.
        $dotEnv = "$($rig.AppRoot)/shared/.env"
        Invoke-AedRigShell -Rig $rig -Command "cp '$dotEnv' '$dotEnv.good' && sed -i -e 's#^READY_PRELOAD=.*#READY_PRELOAD=/nonexistent/preload.cjs#' '$dotEnv'" | Out-Null
        try {
            $before = @(Get-AedRigPm2Process -Rig $rig)
            $probe = Start-AedProbe -Targets @{ 'app:/api/health' = "http://127.0.0.1:$($rig.AppPort)/api/health" } -RequestTimeoutMs 5000 -MaxDurationSec 300
            try {
                { Initialize-DeployTarget -Session $session -AppPath $rig.AppRoot -AppName $rig.AppName -StartTimeout 15 -Confirm:$false -WarningAction SilentlyContinue } |
                    Should -Throw -ErrorId 'Pm2MigrationNotReady,AedDeploy.Cmdlets.InitializeDeployTargetCommand'
            }
            finally { $result = Stop-AedProbe -Probe $probe }
            $result.Sent | Should -BeGreaterThan 50
            $result.Failed | Should -Be 0 -Because ($result.Targets | Out-String)
            @(Get-Pm2AppName | Sort-Object -Unique) | Should -Be @($rig.AppName)
            $after = @(Get-AedRigPm2Process -Rig $rig)
            $after.pid | Should -Be $before.pid
            $after.pm_cwd | Sort-Object -Unique | Should -Be "$newRoot/current"
            Invoke-AedRigShell -Rig $rig -Command "test ! -e '$($rig.AppRoot)/.aeddeploy/migrate.config.cjs' && echo gone" | Should -Be 'gone'
            (Get-RigAppHealth $rig).version | Should -Be $rig.Version
        }
        finally {
            Invoke-AedRigShell -Rig $rig -Command "mv -f '$dotEnv.good' '$dotEnv'" | Out-Null
        }
    }

    It 'Should move a PM2 app that runs from elsewhere to current once, refusing no request under load' {
        $probeSet = Get-AedProbeTargetSet -AppUrl "http://127.0.0.1:$($rig.AppPort)"
        $probe = Start-AedProbe -Targets $probeSet.Targets -RequestTimeoutMs 5000 -MaxDurationSec 300
        try {
            $live = Initialize-DeployTarget -Session $session -AppPath $rig.AppRoot -AppName $rig.AppName -Confirm:$false -WarningVariable warned -WarningAction SilentlyContinue
        }
        finally { $result = Stop-AedProbe -Probe $probe }
        $result.Targets | Format-Table Target, Sent, Failed, Failures, Versions | Out-String | Write-Host
        $result.Sent | Should -BeGreaterThan 100
        $result.Failed | Should -Be 0 -Because ($result.Targets | Out-String)
        ($warned -join ' ') | Should -Match 'No request is refused'
        $live.Id | Should -Be (Split-Path -Leaf (Invoke-AedRigShell -Rig $rig -Command "readlink '$($rig.AppRoot)/current'"))
        (Get-AedRigPm2Process -Rig $rig).pm_cwd | Sort-Object -Unique | Should -Be "$($rig.AppRoot)/current"
        @(Get-Pm2AppName | Sort-Object -Unique) | Should -Be @($rig.AppName)
        (Get-RigAppHealth $rig).version | Should -Be $rig.Version
    }

    It 'Should leave an app that already runs from current alone' {
        $before = (Get-AedRigPm2Process -Rig $rig).pid
        Initialize-DeployTarget -Session $session -AppPath $rig.AppRoot -AppName $rig.AppName -Confirm:$false | Out-Null
        (Get-AedRigPm2Process -Rig $rig).pid | Should -Be $before
    }
}
