#Requires -Version 7.4

<#
.SYNOPSIS
    Builds, tests and packages the AedDeploy module.
.DESCRIPTION
    Tasks (run in the order given; each one stops the build loudly when it fails, naming the step):
      Clean     removes out/ and every bin/ and obj/ folder.
      Build     compiles the solution and lays the module out as it ships: out/AedDeploy/<version>/.
      UnitTest  runs the xunit tests.
      Test      builds and packages, then runs the xunit tests and every Pester suite against the built
                layout (and the package), and ends with one line 'N passed, N failed, N skipped'.
      Package   builds, then publishes the built layout as a .nupkg to out/packages.
      Demo      builds, brings up the loopback rig and shows the fixture app served through nginx.
      Bench     builds, then runs every benchmark under bench/ and writes bench/results/.
    The module version comes from AedDeploy.psd1 alone.
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 -Task Test
.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Test -PesterPath tests/Pester/Session.Tests.ps1
#>
[CmdletBinding()]
param(
    [ValidateSet('Clean', 'Build', 'UnitTest', 'Test', 'Package', 'Demo', 'Bench')]
    [string[]] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Pester files or folders to run instead of all of tests/Pester.
    [string[]] $PesterPath,

    # Pester tags to run or leave out (Unit, Integration, Rehearsal).
    [string[]] $Tag,
    [string[]] $ExcludeTag
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = $PSScriptRoot
$Manifest = Import-PowerShellDataFile (Join-Path $Root 'AedDeploy.psd1')
$Version = $Manifest.ModuleVersion
$OutRoot = Join-Path $Root 'out'
$ModuleOut = Join-Path $OutRoot "AedDeploy/$Version"
$ResultsDir = Join-Path $OutRoot 'test-results'

function Invoke-Step {
    # Runs one step of a task; a failing step stops the build with its name.
    param([string] $Name, [scriptblock] $Action)
    Write-Host "==> $Name" -ForegroundColor Cyan
    $watch = [Diagnostics.Stopwatch]::StartNew()
    try {
        & $Action
    }
    catch {
        throw "Build step '$Name' failed: $($_.Exception.Message)"
    }
    Write-Host ("    {0} took {1:0.0} s" -f $Name, $watch.Elapsed.TotalSeconds)
}

function Invoke-Native {
    # Runs a program and fails when it exits non-zero.
    param([string] $FilePath, [string[]] $ArgumentList)
    & $FilePath @ArgumentList | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "'$FilePath $($ArgumentList -join ' ')' exited with $LASTEXITCODE" }
}

function Invoke-ModuleScript {
    # Runs a script in a fresh PowerShell process that imports the built module exactly as a user would
    # (this same PowerShell: as a dotnet tool it runs through dotnet). Fails when the script exits non-zero.
    param([string] $Path, [string[]] $ArgumentList = @())
    $env:AEDDEPLOY_MODULE = Join-Path $ModuleOut 'AedDeploy.psd1'
    $process = [Environment]::ProcessPath
    [string[]] $prefix = if ([IO.Path]::GetFileNameWithoutExtension($process) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' } else { @() }
    & $process @prefix -NoProfile -NonInteractive -File $Path @ArgumentList | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "$([IO.Path]::GetFileName($Path)) exited with $LASTEXITCODE" }
}

function Get-PesterModulePath {
    # Restores the test tools (Pester, and packages the tests load) as NuGet packages; fast when present.
    Invoke-Native dotnet @('restore', (Join-Path $Root 'tests/tools/Tools.csproj'), '--nologo', '-v', 'quiet')
    $path = Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages/pester/6.2.0/tools/Pester.psd1'
    if (-not (Test-Path $path)) { throw "Pester 6.2.0 was not restored to $path" }
    return $path
}

function Invoke-Clean {
    Invoke-Step 'Clean' {
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $OutRoot
        Get-ChildItem -Path (Join-Path $Root 'src'), (Join-Path $Root 'tests') -Directory -Recurse -Include bin, obj |
            Remove-Item -Recurse -Force
    }
}

function Invoke-Build {
    Invoke-Step 'Compile' {
        Invoke-Native dotnet @('build', (Join-Path $Root 'Cmdlets.sln'), '-c', $Configuration, '--nologo', '-v', 'quiet', "-p:AedVersion=$Version")
    }
    Invoke-Step "Lay out out/AedDeploy/$Version" {
        $publish = Join-Path $OutRoot 'publish'
        Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $publish, $ModuleOut
        Invoke-Native dotnet @('publish', (Join-Path $Root 'src/AedDeploy/AedDeploy.csproj'), '-c', $Configuration, '--nologo', '-v', 'quiet', '--no-build', '-o', $publish, "-p:AedVersion=$Version")
        $dependencies = New-Item -ItemType Directory -Force (Join-Path $ModuleOut 'dependencies')
        # Only the loader and the cmdlet assembly sit beside the manifest; the engine and every
        # third-party assembly load from dependencies/ into the module's own load context.
        $beside = 'AedDeploy.dll', 'AedDeploy.Loader.dll'
        Get-ChildItem $publish -Filter *.dll | Where-Object Name -in $beside | Copy-Item -Destination $ModuleOut
        Get-ChildItem $publish -Filter *.dll | Where-Object Name -notin $beside | Copy-Item -Destination $dependencies
        Copy-Item (Join-Path $Root 'AedDeploy.psd1') $ModuleOut
        Copy-Item -Recurse (Join-Path $Root 'module/*') $ModuleOut
        Remove-Item -Recurse -Force $publish
    }
}

function Get-TrxCounts {
    param([string] $Path)
    $counters = ([xml](Get-Content -Raw $Path)).TestRun.ResultSummary.Counters
    [pscustomobject]@{
        Passed  = [int]$counters.passed
        Failed  = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
        Skipped = [int]$counters.notExecuted
    }
}

function Invoke-UnitTest {
    $trx = Join-Path $ResultsDir 'xunit.trx'
    Remove-Item -Force -ErrorAction SilentlyContinue $trx
    Invoke-Step 'xunit' {
        & dotnet test (Join-Path $Root 'tests/AedDeploy.Tests/AedDeploy.Tests.csproj') -c $Configuration --nologo -v quiet "-p:AedVersion=$Version" `
            --logger "trx;LogFileName=$trx" --logger 'console;verbosity=normal' | Out-Host
        if (-not (Test-Path $trx)) { throw "dotnet test wrote no results (exit $LASTEXITCODE)" }
    }
    Get-TrxCounts $trx
}

function Invoke-PesterSuite {
    $pester = Get-PesterModulePath
    $resultPath = Join-Path $ResultsDir 'pester.json'
    Remove-Item -Force -ErrorAction SilentlyContinue $resultPath
    $paths = if ($PesterPath) { $PesterPath | ForEach-Object { (Resolve-Path $_).Path } } else { @(Join-Path $Root 'tests/Pester') }
    $settings = @{
        Pester     = $pester
        Paths      = @($paths)
        Tag        = @($Tag | Where-Object { $_ })
        ExcludeTag = @($ExcludeTag | Where-Object { $_ })
        Result     = $resultPath
    } | ConvertTo-Json -Compress
    Invoke-Step 'Pester' {
        try {
            Invoke-ModuleScript (Join-Path $Root 'tests/Invoke-PesterSuite.ps1') @('-Settings', $settings)
        }
        catch {
            # Failed tests are counted below; only a run that wrote no results is a broken step.
            if (-not (Test-Path $resultPath)) { throw "Pester wrote no results: $($_.Exception.Message)" }
        }
    }
    $counts = Get-Content -Raw $resultPath | ConvertFrom-Json
    if ($null -eq $counts.Passed -or $null -eq $counts.Failed) { throw "Pester wrote no counts to $resultPath" }
    $counts
}

function Invoke-Test {
    New-Item -ItemType Directory -Force $ResultsDir | Out-Null
    $suites = @(Invoke-UnitTest; Invoke-PesterSuite)
    $passed = ($suites | Measure-Object -Sum Passed).Sum
    $failed = ($suites | Measure-Object -Sum Failed).Sum
    $skipped = ($suites | Measure-Object -Sum Skipped).Sum
    Write-Host ("xunit: {0} passed, {1} failed, {2} skipped; Pester: {3} passed, {4} failed, {5} skipped" -f `
            $suites[0].Passed, $suites[0].Failed, $suites[0].Skipped, $suites[1].Passed, $suites[1].Failed, $suites[1].Skipped)
    Write-Host "$passed passed, $failed failed, $skipped skipped"
    if ($failed -gt 0) { exit 1 }
}

function Invoke-Package {
    Invoke-Step 'Package' {
        $repositoryPath = New-Item -ItemType Directory -Force (Join-Path $OutRoot 'packages')
        Get-ChildItem $repositoryPath -Filter "AedDeploy.$Version.nupkg" | Remove-Item -Force
        $name = "AedDeployBuild-$PID"
        Register-PSResourceRepository -Name $name -Uri $repositoryPath.FullName -Trusted
        try {
            Publish-PSResource -Path $ModuleOut -Repository $name -SkipDependenciesCheck
        }
        finally {
            Unregister-PSResourceRepository -Name $name
        }
        Write-Host "    $(Join-Path $repositoryPath "AedDeploy.$Version.nupkg")"
    }
}

function Invoke-Demo {
    Invoke-Step 'Demo' { Invoke-ModuleScript (Join-Path $Root 'tests/Demo.ps1') }
}

function Invoke-Bench {
    foreach ($script in Get-ChildItem (Join-Path $Root 'bench') -Filter 'Measure-*.ps1') {
        Invoke-Step "Bench $($script.BaseName)" { Invoke-ModuleScript $script.FullName }
    }
}

foreach ($name in $Task) {
    switch ($name) {
        'Clean' { Invoke-Clean }
        'Build' { Invoke-Build }
        'UnitTest' {
            $counts = Invoke-UnitTest
            Write-Host "$($counts.Passed) passed, $($counts.Failed) failed, $($counts.Skipped) skipped"
            if ($counts.Failed -gt 0) { exit 1 }
        }
        'Test' { Invoke-Build; Invoke-Package; Invoke-Test }
        'Package' { Invoke-Build; Invoke-Package }
        'Demo' { Invoke-Build; Invoke-Demo }
        'Bench' { Invoke-Build; Invoke-Bench }
    }
}
