#Requires -Version 7.4
# A real browser for the rig: Debian's headless Chromium (installed by Start-AedRig -Browser) driven by
# playwright-core, which is installed from npm into <repo>/.cache and never downloads a browser of its own.
# One Chromium per Start-AedBrowser, started by browser-driver.cjs and stopped by its pid in Stop-AedBrowser,
# also when a test failed half-way.
Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

$script:RepoRoot = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
$script:CacheRoot = Join-Path $script:RepoRoot '.cache'
$script:PlaywrightVersion = '1.65.1'
$script:PlaywrightPrefix = Join-Path $script:CacheRoot "playwright-core-$script:PlaywrightVersion"
$script:ChromiumPath = '/usr/bin/chromium'
$script:DriverPath = Join-Path $PSScriptRoot 'browser-driver.cjs'

function Install-RigPlaywright {
    # Installed once per checkout, beside and renamed into place (as PM2 is), so that a concurrent test never sees half an install.
    $package = Join-Path $script:PlaywrightPrefix 'node_modules/playwright-core'
    if (Test-Path -LiteralPath (Join-Path $package 'package.json')) { return $package }
    $null = [IO.Directory]::CreateDirectory($script:CacheRoot)
    $staging = "$script:PlaywrightPrefix.tmp-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
    try {
        $null = [IO.Directory]::CreateDirectory($staging)
        $output = & /usr/bin/npm install --prefix $staging "playwright-core@$script:PlaywrightVersion" --no-audit --no-fund --no-save --loglevel=error 2>&1
        if ($LASTEXITCODE -ne 0) { throw "npm install playwright-core@$script:PlaywrightVersion failed: $output" }
        try { [IO.Directory]::Move($staging, $script:PlaywrightPrefix) }
        catch { if (-not (Test-Path -LiteralPath (Join-Path $package 'package.json'))) { throw } }
    }
    finally {
        if (Test-Path -LiteralPath $staging) { Remove-Item -LiteralPath $staging -Recurse -Force }
    }
    $package
}

function Start-AedBrowser {
    <#
    .SYNOPSIS
    Starts headless Chromium under browser-driver.cjs. Returns the browser object (Process, DriverPid, BrowserPid,
    Version) for Invoke-AedBrowser; pair with Stop-AedBrowser in AfterAll.
    #>
    [CmdletBinding()]
    param([int] $TimeoutSec = 60)
    if (-not [IO.File]::Exists($script:ChromiumPath)) { throw "Missing $script:ChromiumPath: start the rig with Start-AedRig -Browser (it installs Debian's chromium)" }
    $package = Install-RigPlaywright
    $psi = [Diagnostics.ProcessStartInfo]::new('/usr/bin/node')
    foreach ($a in $script:DriverPath, $package, $script:ChromiumPath) { $psi.ArgumentList.Add($a) }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardInput = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $process = [Diagnostics.Process]::Start($psi)
    $browser = [pscustomobject]@{ Process = $process; DriverPid = $process.Id; BrowserPid = $null; Version = $null; Stderr = $process.StandardError.ReadToEndAsync(); NextId = 0; Stopped = $false }
    try {
        $ready = Read-AedBrowserLine -Browser $browser -TimeoutSec $TimeoutSec
        if (-not $ready.ready) { throw "Chromium did not start: $($ready.error)" }
        $browser.BrowserPid = $ready.browserPid
        $browser.Version = $ready.version
    }
    catch {
        Stop-AedBrowser -Browser $browser
        throw
    }
    $browser
}

function Read-AedBrowserLine {
    param([Parameter(Mandatory)] $Browser, [int] $TimeoutSec)
    $read = $Browser.Process.StandardOutput.ReadLineAsync()
    if (-not $read.Wait([TimeSpan]::FromSeconds($TimeoutSec))) { throw "The browser driver did not answer within $TimeoutSec s" }
    $line = $read.GetAwaiter().GetResult()
    if ($null -eq $line) {
        $Browser.Process.WaitForExit(5000) | Out-Null
        throw "The browser driver exited: $($Browser.Stderr.GetAwaiter().GetResult())"
    }
    $line | ConvertFrom-Json -Depth 20
}

function Invoke-AedBrowser {
    <#
    .SYNOPSIS
    Sends one command to the tab and returns its answer: @{ op = 'open'; url; selectors }, @{ op = 'click';
    selector; waitFor; path; selectors; timeoutMs }, @{ op = 'html' }, @{ op = 'problems' }. Throws when it failed.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Browser, [Parameter(Mandatory)] [hashtable] $Command, [int] $TimeoutSec = 60)
    $Browser.NextId++
    $Command.id = $Browser.NextId
    if (-not $Command.ContainsKey('timeoutMs')) { $Command.timeoutMs = ($TimeoutSec - 5) * 1000 }
    $Browser.Process.StandardInput.WriteLine(($Command | ConvertTo-Json -Compress -Depth 10))
    $Browser.Process.StandardInput.Flush()
    $answer = Read-AedBrowserLine -Browser $Browser -TimeoutSec $TimeoutSec
    if (-not $answer.ok) { throw "Browser command $($Command.op) failed: $($answer.error)" }
    $answer
}

function Stop-AedBrowser {
    <#
    .SYNOPSIS
    Stops the browser: asks the driver to close it, then kills Chromium's process group and the driver by their
    pids, whatever state they are in. Safe to call twice.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] $Browser)
    if ($Browser.Stopped) { return }
    $Browser.Stopped = $true
    try {
        $Browser.Process.StandardInput.WriteLine('{"op":"close","id":0}')
        $Browser.Process.StandardInput.Close()
        $null = $Browser.Process.WaitForExit(10000)
    }
    catch { Write-Verbose "The browser driver did not close cleanly: $($_.Exception.Message)" }
    # Playwright starts Chromium as the leader of its own process group: its renderers and zygotes go with it.
    if ($Browser.BrowserPid) { & /bin/kill -KILL -- "-$($Browser.BrowserPid)" 2>$null }
    if (-not $Browser.Process.HasExited) { $Browser.Process.Kill($true); $null = $Browser.Process.WaitForExit(10000) }
    $Browser.Process.Dispose()
}

Export-ModuleMember -Function Start-AedBrowser, Invoke-AedBrowser, Stop-AedBrowser
