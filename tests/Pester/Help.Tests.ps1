#Requires -Version 7.4
# The module's documentation, read from the built layout: help for every exported cmdlet (synopsis,
# description, every parameter, examples that use real parameters), a table view for every output type
# that fits an 80-column terminal, and the about topic. Starts nothing.

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
            $title = "$($example.title)".Trim('- ')
            $tokens = $errors = $null
            $ast = [System.Management.Automation.Language.Parser]::ParseInput("$($example.code)", [ref] $tokens, [ref] $errors)
            foreach ($parseError in $errors) { "${title}: does not parse: $($parseError.Message)" }
            foreach ($call in $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] }, $true)) {
                $called = $moduleCommands[$call.GetCommandName()]
                if (-not $called) { continue }
                # Full names or declared aliases only: a prefix that works today breaks when a parameter is added.
                $known = @($called.Parameters.Values | ForEach-Object { $_.Name; $_.Aliases })
                foreach ($parameter in $call.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] }) {
                    if ($parameter.ParameterName -notin $known) { "${title}: $($called.Name) has no parameter -$($parameter.ParameterName)" }
                }
            }
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
