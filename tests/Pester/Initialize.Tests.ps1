#Requires -Version 7.4
# Initialize-DeployTarget against the rig: a first release at a new path, the one-time move of a PM2 app
# to <app>/current, and the refusal to turn an InPlace checkout into a Release layout.

Describe 'Initialize-DeployTarget' -Tag Integration {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'Common.ps1')
        # PM2 runs nothing yet: each test starts the app itself.
        $rig = Start-AedRig -Layout Release -NoPm2 -NoNginx
        $session = New-RigSession $rig
        $newRoot = "$($rig.Home)/app2"
        $shippedPreload = Get-Content -Raw (Join-Path $PSScriptRoot '../../src/AedDeploy.Engine/Engine/Scripts/ready-preload.cjs')
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

    It 'Should move a PM2 app that runs from elsewhere to current once, with a warning' {
        $live = Initialize-DeployTarget -Session $session -AppPath $rig.AppRoot -AppName $rig.AppName -Confirm:$false -WarningVariable warned -WarningAction SilentlyContinue
        ($warned -join ' ') | Should -Match 'delete'
        $live.Id | Should -Be (Split-Path -Leaf (Invoke-AedRigShell -Rig $rig -Command "readlink '$($rig.AppRoot)/current'"))
        (Get-AedRigPm2Process -Rig $rig).pm_cwd | Sort-Object -Unique | Should -Be "$($rig.AppRoot)/current"
        (Get-RigAppHealth $rig).version | Should -Be $rig.Version
    }

    It 'Should leave an app that already runs from current alone' {
        $before = (Get-AedRigPm2Process -Rig $rig).pid
        Initialize-DeployTarget -Session $session -AppPath $rig.AppRoot -AppName $rig.AppName -Confirm:$false | Out-Null
        (Get-AedRigPm2Process -Rig $rig).pid | Should -Be $before
    }
}
