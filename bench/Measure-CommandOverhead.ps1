#Requires -Version 7.4
<#
.SYNOPSIS
    Per-command overhead: N commands over one reused AedDeploy session against N separate OpenSSH
    'ssh' invocations, on the loopback rig. Writes bench/results/command-overhead.{md,json}.
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Bench
#>
param(
    [ValidateRange(5, 1000)] [int] $Count = 50,
    [string] $OutputDirectory = (Join-Path $PSScriptRoot 'results')
)
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot '../tests/Pester/Common.ps1')

function Measure-Runs([int] $Count, [scriptblock] $Action) {
    & $Action | Out-Null  # warm-up, not counted
    $times = foreach ($i in 1..$Count) {
        $watch = [Diagnostics.Stopwatch]::StartNew()
        & $Action | Out-Null
        $watch.Elapsed.TotalMilliseconds
    }
    $sorted = $times | Sort-Object
    [pscustomobject]@{
        MeanMs   = [math]::Round(($times | Measure-Object -Average).Average, 1)
        MedianMs = [math]::Round($sorted[[int]($sorted.Count / 2)], 1)
        P95Ms    = [math]::Round($sorted[[int][math]::Floor($sorted.Count * 0.95) - 1], 1)
    }
}

$rig = Start-AedRig -NoPm2 -NoNginx
try {
    $session = New-DeploySession -HostName $rig.HostName -Port $rig.SshPort -UserName $rig.UserName -KeyFilePath $rig.KeyPath -KnownHostsPath $rig.KnownHostsPath
    $reused = Measure-Runs $Count { Invoke-DeployCommand -Session $session -Command 'true' -ErrorOnNonZeroExit }
    Remove-DeploySession $session

    $sshArgs = @('-i', $rig.KeyPath, '-p', $rig.SshPort, '-o', "UserKnownHostsFile=$($rig.KnownHostsPath)", '-o', 'StrictHostKeyChecking=yes',
        '-o', 'BatchMode=yes', '-o', 'ControlMaster=no', '-o', 'ControlPath=none', "$($rig.UserName)@$($rig.HostName)", 'true')
    $separate = Measure-Runs $Count { & ssh @sshArgs; if ($LASTEXITCODE) { throw "ssh exited with $LASTEXITCODE" } }
}
finally {
    Stop-AedRig -Rig $rig
}

$ratio = [math]::Round($separate.MeanMs / $reused.MeanMs, 1)
$result = [ordered]@{
    Benchmark  = 'command-overhead'
    Date       = (Get-Date).ToString('yyyy-MM-dd HH:mm')
    Machine    = "$([Environment]::ProcessorCount) cores, $([Runtime.InteropServices.RuntimeInformation]::OSDescription)"
    Count      = $Count
    Reused     = $reused
    Separate   = $separate
    Ratio      = $ratio
}
New-Item -ItemType Directory -Force $OutputDirectory | Out-Null
$result | ConvertTo-Json -Depth 4 | Set-Content (Join-Path $OutputDirectory 'command-overhead.json')
$markdown = @(
    "| $Count × ``true`` on loopback | mean | median | p95 |"
    '|---|---:|---:|---:|'
    "| AedDeploy, one reused session (Invoke-DeployCommand) | $($reused.MeanMs) ms | $($reused.MedianMs) ms | $($reused.P95Ms) ms |"
    "| OpenSSH, a new ``ssh`` connection per command | $($separate.MeanMs) ms | $($separate.MedianMs) ms | $($separate.P95Ms) ms |"
    ''
    "A reused session is **$ratio×** faster per command. Measured $($result.Date) on $($result.Machine)."
) -join "`n"
$markdown | Set-Content (Join-Path $OutputDirectory 'command-overhead.md')
$markdown
