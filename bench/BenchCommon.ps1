# Shared by the load benchmarks (dot-sourced): the machine's load, the result's common fields, how a time reads,
# and where the results go.

function Get-LoadAverage { ((Get-Content -Raw /proc/loadavg) -split ' ')[0..2] -join ' ' }

function New-BenchResult {
    # The fields every load benchmark's JSON starts with; the caller adds its own.
    param([string] $Name, [Diagnostics.Stopwatch] $Clock, [string] $LoadBefore, [int] $IntervalMs, [int] $RequestTimeoutMs)
    [ordered]@{
        Benchmark        = $Name
        Date             = (Get-Date).ToString('yyyy-MM-dd HH:mm')
        Machine          = "$([Environment]::ProcessorCount) cores, $([Runtime.InteropServices.RuntimeInformation]::OSDescription)"
        LoadAverageStart = $LoadBefore
        LoadAverageEnd   = Get-LoadAverage
        IntervalMs       = $IntervalMs
        RequestTimeoutMs = $RequestTimeoutMs
        TotalSeconds     = [math]::Round($Clock.Elapsed.TotalSeconds)
    }
}

function Format-Ms($ms) { if ($null -eq $ms) { '-' } elseif ($ms -lt 1000) { "$([math]::Round($ms)) ms" } else { "$([math]::Round($ms / 1000, 1)) s" } }

function Save-BenchResult {
    # Writes <Name>.json and <Name>.md into the output folder and prints the Markdown.
    param([string] $OutputDirectory, [string] $Name, $Result, [string] $Markdown, [int] $Depth = 8)
    New-Item -ItemType Directory -Force $OutputDirectory | Out-Null
    $Result | ConvertTo-Json -Depth $Depth | Set-Content (Join-Path $OutputDirectory "$Name.json")
    $Markdown | Set-Content (Join-Path $OutputDirectory "$Name.md")
    $Markdown
}
