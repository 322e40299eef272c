#Requires -Version 7.4
# The module's documentation, read from the built layout: help for every exported cmdlet (synopsis,
# description, every parameter, examples that use real parameters), a table view for every output type
# that fits an 80-column terminal, and the about topic; and the examples under docs/examples. Starts
# nothing, and sends nothing off this machine.

BeforeDiscovery {
    $manifest = $env:AEDDEPLOY_MODULE
    if (-not $manifest) {
        $manifest = Get-ChildItem (Join-Path $PSScriptRoot '../../out/AedDeploy/*/AedDeploy.psd1') |
            Sort-Object { [version]$_.Directory.Name } | Select-Object -Last 1 -ExpandProperty FullName
    }
    if (-not $manifest -or -not (Test-Path $manifest)) {
        throw 'The built module was not found: run ./build.ps1 -Task Build first (or ./build.ps1 -Task Test).'
    }
    Import-Module $manifest -Force

    # WhatIf and Confirm are left out: their meaning is PowerShell's own, like the common parameters'.
    $notOwn = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters
    $cmdlets = foreach ($command in Get-Command -Module AedDeploy -CommandType Cmdlet | Sort-Object Name) {
        @{
            Name       = $command.Name
            Parameters = @($command.Parameters.Keys | Where-Object { $_ -notin $notOwn } | Sort-Object)
        }
    }

    # The declared output types, and the AedDeploy types their properties hold (Checks, Probes, Before/After, ...),
    # since Format-Table on a nested collection uses those types' views.
    $typeNames = [System.Collections.Generic.SortedSet[string]]::new()
    $pending = [System.Collections.Generic.Queue[type]]::new()
    foreach ($type in (Get-Command -Module AedDeploy).OutputType.Type) {
        if ($type -and $type.Namespace -eq 'AedDeploy') { $pending.Enqueue($type) }
    }
    while ($pending.Count) {
        $type = $pending.Dequeue()
        if ($type.IsEnum -or -not $typeNames.Add($type.FullName)) { continue }
        foreach ($property in $type.GetProperties()) {
            $held = $property.PropertyType
            if ($held.IsGenericType) { $held = $held.GetGenericArguments()[-1] }
            elseif ($held.IsArray) { $held = $held.GetElementType() }
            if ($held.Namespace -eq 'AedDeploy' -and -not $held.IsEnum -and -not $held.IsAbstract) { $pending.Enqueue($held) }
        }
    }
    $outputTypes = @($typeNames)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Common.ps1')
    $module = Get-Module AedDeploy
    $moduleCommands = @{}
    Get-Command -Module AedDeploy | ForEach-Object { $moduleCommands[$_.Name] = $_ }

    # A sample object of the real type, every property filled, collections with two items.
    $session = New-DeploySession -Local
    function New-Sample([type] $Type, [string] $Name, [int] $Depth = 0) {
        if ([Nullable]::GetUnderlyingType($Type)) { $Type = [Nullable]::GetUnderlyingType($Type) }
        switch ($Type) {
            ([string]) {
                switch -Regex ($Name) {
                    'Path$' { return '/srv/apps/shop/releases/20261126T070102Z' }
                    'Url' { return 'http://127.0.0.1:3000/api/health' }
                    'Status' { return 'online' }
                    '^(app)?Name$' { return 'shop' }
                    'Id$' { return '20261126T070102Z' }
                    default { return 'sample text' }
                }
            }
            ([int]) { return 2 }
            ([long]) { return 2L }
            ([double]) { return 1.5 }
            ([bool]) { return $true }
            ([TimeSpan]) { return [TimeSpan]::FromSeconds(1.5) }
            ([DateTimeOffset]) { return [DateTimeOffset]::Now.AddMinutes(-5) }
            ([uri]) { return [uri]'http://127.0.0.1:3000/api/health' }
        }
        if ($Type.IsEnum) { return [Enum]::GetValues($Type)[0] }
        if ($Type.Name -eq 'DeploySession') { return $session }
        if ($Type.Name -eq 'AppTarget') { return $Type::new('/srv/apps/shop', 'shop', [Enum]::GetValues($Type.GetProperty('Layout').PropertyType)[0], $null, $null) }
        # Collections: arrays and read-only interfaces get an array, List<T> and the like a filled instance.
        $element = if ($Type.IsArray) { $Type.GetElementType() }
        elseif ($Type.IsGenericType -and [System.Collections.IEnumerable].IsAssignableFrom($Type)) { $Type.GetGenericArguments()[-1] }
        if ($element) {
            $items = [Array]::CreateInstance($element, 2)
            if ($Depth -lt 3) { for ($i = 0; $i -lt 2; $i++) { $items[$i] = New-Sample $element $Name ($Depth + 1) } }
            if ($Type.IsArray -or $Type.IsInterface) { return , $items }
            $collection = [Activator]::CreateInstance($Type)
            foreach ($item in $items) { [void]$collection.Add($item) }
            return , $collection
        }
        $constructor = $Type.GetConstructors() | Sort-Object { $_.GetParameters().Count } -Descending | Select-Object -First 1
        $arguments = [object[]]@($constructor.GetParameters() | ForEach-Object { , (Get-BaseObject (New-Sample $_.ParameterType $_.Name ($Depth + 1))) })
        $sample = $constructor.Invoke($arguments)
        $settable = $Type.GetProperties() | Where-Object { $_.SetMethod -and $_.SetMethod.IsPublic -and -not $_.GetIndexParameters() }
        foreach ($property in $settable) {
            $property.SetValue($sample, (Get-BaseObject (New-Sample $property.PropertyType $property.Name ($Depth + 1))))
        }
        $sample
    }
    function Get-BaseObject($Value) { if ($Value -is [psobject]) { , $Value.psobject.BaseObject } else { , $Value } }

    # What is wrong with a piece of PowerShell that calls AedDeploy cmdlets: parse errors, and parameters the
    # called cmdlets do not have. Full names or declared aliases only: a prefix that works today breaks when
    # a parameter is added.
    function Get-ScriptProblem([string] $Code, [string] $Name) {
        $tokens = $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($Code, [ref] $tokens, [ref] $errors)
        foreach ($parseError in $errors) { "${Name}: does not parse: $($parseError.Message)" }
        foreach ($call in $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] }, $true)) {
            $called = $moduleCommands[$call.GetCommandName()]
            if (-not $called) { continue }
            $known = @($called.Parameters.Values | ForEach-Object { $_.Name; $_.Aliases })
            foreach ($parameter in $call.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] }) {
                if ($parameter.ParameterName -notin $known) { "${Name}: $($called.Name) has no parameter -$($parameter.ParameterName)" }
            }
        }
    }
}

AfterAll {
    if ($session) { Remove-DeploySession $session }
}

Describe 'Help of <Name>' -ForEach $cmdlets -Tag Unit {
    BeforeAll {
        $command = $moduleCommands[$Name]
        $help = Get-Help $Name -Full
        $helpParameters = @($help.parameters.parameter | Where-Object { $_ })
    }

    It 'Should have a synopsis written for it' {
        # Without a help file PowerShell makes the synopsis from the syntax.
        $synopsis = "$($help.Synopsis)".Trim()
        $synopsis | Should -Not -BeNullOrEmpty
        $synopsis | Should -Not -BeLike "$Name*"
    }

    It 'Should have a description' {
        ($help.description.Text -join '').Trim() | Should -Not -BeNullOrEmpty
    }

    It 'Should have at least two examples' {
        $examples = @($help.examples.example | Where-Object { "$($_.code)".Trim() })
        $examples.Count | Should -BeGreaterOrEqual 2
    }

    It 'Should describe -<_>' -ForEach $Parameters {
        $parameter = $helpParameters | Where-Object name -EQ $_
        $parameter | Should -Not -BeNullOrEmpty -Because "-$_ is a parameter of $Name"
        ($parameter.description.Text -join '').Trim() | Should -Not -BeNullOrEmpty -Because "-$_ needs a description"
    }

    It 'Should document only parameters the cmdlet has' {
        $helpParameters.name | Where-Object { -not $command.Parameters.ContainsKey($_) } | Should -BeNullOrEmpty
    }

    It 'Should have examples that parse and use only parameters of the AedDeploy cmdlets they call' {
        $problems = foreach ($example in $help.examples.example) {
            Get-ScriptProblem "$($example.code)" "$($example.title)".Trim('- ')
        }
        $problems | Should -BeNullOrEmpty
    }
}

Describe 'Format view of <_>' -ForEach $outputTypes -Tag Unit {
    BeforeAll {
        $typeName = $_
        $view = (Get-FormatData -TypeName $typeName).FormatViewDefinition |
            Where-Object { $_.Control -is [System.Management.Automation.TableControl] } | Select-Object -First 1

        $sampleType = $session.GetType().Assembly.GetType($typeName, $true)
    }

    It 'Should have a table view' {
        $view | Should -Not -BeNullOrEmpty -Because "Format-Table of $typeName would otherwise show whatever properties fit"
    }

    It 'Should fit an 80-column terminal' {
        $widths = @($view.Control.Headers.Width)
        # PowerShell drops whole columns that do not fit; only the last column may take the rest of the line.
        @($widths | Select-Object -SkipLast 1 | Where-Object { $_ -le 0 }).Count | Should -Be 0
        (($widths | Measure-Object -Sum).Sum + $widths.Count - 1) | Should -BeLessOrEqual 79
    }

    It 'Should show every column and summarise what the object holds' {
        $sample = New-Sample $sampleType
        $lines = @(($sample, $sample | Format-Table | Out-String -Width 80) -split '\r?\n' | Where-Object { $_.Trim() })
        $header = $lines[0]
        foreach ($label in $view.Control.Headers.Label) { $header | Should -Match ([regex]::Escape($label)) }
        $lines.Count | Should -Be 4
        # A nested collection without a summary prints as {item, item}; a nested object as its type name.
        $lines -join "`n" | Should -Not -Match '\{|AedDeploy\.[A-Z]|System\.[A-Z]'
    }
}

Describe 'about_AedDeploy' -Tag Unit {
    BeforeAll {
        $topicPath = Join-Path $module.ModuleBase 'en-US/about_AedDeploy.help.txt'
    }

    It 'Should be in the layout' {
        $topicPath | Should -Exist
    }

    It 'Should be found by Get-Help' {
        Get-Help about_AedDeploy | Out-String | Should -Match 'TOPIC\s+about_AedDeploy'
    }

    It 'Should fit an 80-column terminal' {
        Get-Content $topicPath | Where-Object Length -GT 80 | Should -BeNullOrEmpty
    }
}

Describe 'The example deploy.psd1' -Tag Unit {
    BeforeAll {
        $repositoryRoot = Join-Path $PSScriptRoot '../..'
        $examplePath = Join-Path $repositoryRoot 'docs/examples/deploy.psd1'
        $deploy = $moduleCommands['Invoke-ZeroDowntimeDeploy']

        # The settings a deploy.psd1 may hold, as the cmdlet's source lists them (DeployConfiguration.Keys).
        $source = Get-Content -Raw (Join-Path $repositoryRoot 'src/AedDeploy/Cmdlets/DeployConfiguration.cs')
        $keyList = [regex]::Match($source, 'IReadOnlyList<string>\s+Keys\s*=\s*\[(?<keys>[^\]]*)\]').Groups['keys'].Value
        $settingNames = @([regex]::Matches($keyList, '"(\w+)"') | ForEach-Object { $_.Groups[1].Value })

        # Read as the cmdlet reads it: parsed, and only data taken (nothing in the file runs).
        $tokens = $parseErrors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($examplePath, [ref] $tokens, [ref] $parseErrors)
        $environments = if (-not $parseErrors) { $ast.Find({ $args[0] -is [System.Management.Automation.Language.HashtableAst] }, $false).SafeGetValue()['Environments'] }
    }

    It 'Should find the settings in DeployConfiguration.cs, each a parameter of Invoke-ZeroDowntimeDeploy' {
        $settingNames.Count | Should -BeGreaterThan 20 -Because 'the checks below pass on an empty list'
        $settingNames | Where-Object { -not $deploy.Parameters.ContainsKey($_) } | Should -BeNullOrEmpty
    }

    It 'Should parse as a data file with a staging and a production environment' {
        $parseErrors | Should -BeNullOrEmpty
        @($environments.Keys | Sort-Object) | Should -Be @('production', 'staging')
    }

    It 'Should use only settings that Invoke-ZeroDowntimeDeploy accepts' {
        $unknown = foreach ($name in $environments.Keys) {
            $environments[$name].Keys | Where-Object { $_ -cnotin $settingNames } | ForEach-Object { "${name}: $_" }
        }
        $unknown | Should -BeNullOrEmpty
    }

    It 'Should show every setting' {
        $shown = @($environments.Values | ForEach-Object { $_.Keys })
        $settingNames | Where-Object { $_ -notin $shown } | Should -BeNullOrEmpty -Because 'the example is where a reader finds every setting'
    }

    It 'Should write times as hh:mm:ss strings' {
        # The file's values are converted as PowerShell converts them: a bare number there is not seconds.
        $timeSettings = @($settingNames | Where-Object { $deploy.Parameters[$_].ParameterType -eq [TimeSpan] })
        $timeSettings | Should -Not -BeNullOrEmpty
        $problems = foreach ($name in $environments.Keys) {
            foreach ($setting in $timeSettings | Where-Object { $environments[$name].ContainsKey($_) }) {
                $value = $environments[$name][$setting]
                if ($value -isnot [string] -or $value -notmatch '^\d{2}:\d{2}:\d{2}$') { "${name}.${setting} = $value" }
            }
        }
        $problems | Should -BeNullOrEmpty
    }

    It 'Should have every setting named in the help of Invoke-ZeroDowntimeDeploy' {
        $description = (Get-Help Invoke-ZeroDowntimeDeploy).description.Text -join ' '
        $settingNames | Where-Object { $description -cnotmatch "\b$_\b" } | Should -BeNullOrEmpty
    }

    It 'Should be read by Invoke-ZeroDowntimeDeploy up to connecting to the server' {
        if (-not (Get-Command ssh-keygen -CommandType Application -ErrorAction SilentlyContinue)) {
            Set-ItResult -Skipped -Because 'ssh-keygen (openssh-client) makes the key the connection needs'
            return
        }
        # Nothing may leave this machine: a copy of the example sends staging to 127.0.0.1, and -Port names a
        # loopback port nobody listens on. Every setting is read and converted before the connection is
        # opened, so a refused connection is proof that the file was taken whole.
        $copy = Join-Path $TestDrive 'deploy.psd1'
        $text = (Get-Content -Raw $examplePath) -replace "(HostName\s*=\s*)'staging\.example\.com'", '$1''127.0.0.1'''
        $text | Should -Match "'127\.0\.0\.1'"
        Set-Content -Path $copy -Value $text
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start()
        $closedPort = $listener.LocalEndpoint.Port
        $listener.Stop()
        $key = Join-Path $TestDrive 'deploy_key'
        ssh-keygen -q -t ed25519 -N '' -C aeddeploy-help-test -f $key | Out-Null

        $failure = {
            Invoke-ZeroDowntimeDeploy -ConfigurationPath $copy -Environment staging -Port $closedPort -KeyFilePath $key `
                -KnownHostsPath (Join-Path $TestDrive 'known_hosts') -WhatIf
        } | Should -Throw -PassThru
        $failure.FullyQualifiedErrorId | Should -BeLike 'SshConnectionRefused,*'
        $failure.CategoryInfo.Category | Should -Be 'ConnectionError'
    }
}

Describe 'The example script <_>' -ForEach 'rehearse-staging.ps1', 'github-actions-deploy.yml' -Tag Unit {
    BeforeAll {
        $path = Join-Path $PSScriptRoot "../../docs/examples/$_"
        $code = if ($path -like '*.yml') {
            # The pwsh step: the block under 'run: |', with the ${{ }} expressions GitHub fills in first.
            $lines = Get-Content $path
            $start = ($lines | Select-String -Pattern '^(\s*)run: \|\s*$' | Select-Object -First 1)
            $indent = $start.Matches[0].Groups[1].Value.Length
            $block = $lines | Select-Object -Skip $start.LineNumber | ForEach-Object -Begin { $inBlock = $true } -Process {
                if ($inBlock -and ($_ -match '^\s*$' -or ($_ -match '^(\s*)' -and $Matches[1].Length -gt $indent))) { $_ } else { $inBlock = $false }
            }
            ($block -join "`n") -replace '\$\{\{[^}]*\}\}', 'github-expression'
        }
        else { Get-Content -Raw $path }
    }

    It 'Should parse and give the AedDeploy cmdlets only parameters they have' {
        $code | Should -Match 'Invoke-'
        Get-ScriptProblem $code $_ | Should -BeNullOrEmpty
    }
}
