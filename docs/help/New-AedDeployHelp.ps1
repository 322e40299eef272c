#Requires -Version 7.4

<#
.SYNOPSIS
    Writes the cmdlet help of AedDeploy (module/en-US/AedDeploy.dll-Help.xml) from HelpContent.ps1 and the
    built cmdlets.
.DESCRIPTION
    The MAML file is committed, and it is what ships and what tests/Pester/Help.Tests.ps1 checks; this
    script is how it is kept in step with the cmdlets. It is not part of the build.

    The prose (synopsis, description, parameter descriptions and defaults, inputs, outputs, notes,
    examples, links) lives in HelpContent.ps1 beside this script. Everything the cmdlets know themselves
    is read from the built module with Get-Command: the parameter sets, types, positions, aliases,
    whether a parameter is mandatory, and what it takes from the pipeline. The script stops, writing
    nothing, when an exported cmdlet has no entry, an entry names no exported cmdlet, a parameter is not
    documented, or a documented parameter does not exist.

    After changing a cmdlet (a parameter added, renamed, given an alias, a default changed):
      1. Build:      dotnet pwsh ./build.ps1 -Task Build
      2. Edit the prose in docs/help/HelpContent.ps1 (a new parameter needs a description and a default).
      3. Regenerate, in a fresh process (a binary module cannot be reloaded into a session that has an
         older build of it loaded):
                     dotnet pwsh -NoProfile -File ./docs/help/New-AedDeployHelp.ps1
         -Verbose lists each parameter's default as a fresh cmdlet holds it beside the documented one.
      4. Rebuild (the layout copies module/), run tests/Pester/Help.Tests.ps1, and read the result with
         Get-Help <cmdlet> -Full. Commit HelpContent.ps1 and the MAML together.
    about_AedDeploy.help.txt and AedDeploy.format.ps1xml are written by hand.
.EXAMPLE
    dotnet pwsh -NoProfile -File ./docs/help/New-AedDeployHelp.ps1
.EXAMPLE
    dotnet pwsh -NoProfile -File ./docs/help/New-AedDeployHelp.ps1 -ModulePath /tmp/copy/out/AedDeploy/0.1.0/AedDeploy.psd1 -Verbose
#>
[CmdletBinding()]
param(
    # The built module's manifest; by default the newest layout under out/.
    [string] $ModulePath,

    # Where the MAML is written.
    [string] $OutputPath = (Join-Path $PSScriptRoot '../../module/en-US/AedDeploy.dll-Help.xml'),

    # The prose: a script that returns one hashtable per cmdlet.
    [string] $ContentPath = (Join-Path $PSScriptRoot 'HelpContent.ps1')
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

if (-not $ModulePath) {
    $ModulePath = Get-ChildItem (Join-Path $PSScriptRoot '../../out/AedDeploy/*/AedDeploy.psd1') -ErrorAction SilentlyContinue |
        Sort-Object { [version]$_.Directory.Name } | Select-Object -Last 1 -ExpandProperty FullName
    if (-not $ModulePath) { throw 'No built module under out/: run ./build.ps1 -Task Build first, or give -ModulePath.' }
}
Import-Module $ModulePath -Force -Verbose:$false
$module = Get-Module AedDeploy
$content = @(& $ContentPath)

# WhatIf and Confirm are documented with each cmdlet that has them; the other common parameters are PowerShell's.
$common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters
function Get-OwnParameterName($Command) {
    $Command.Parameters.Keys | Where-Object { $_ -notin $common -or $_ -in 'WhatIf', 'Confirm' }
}

$exported = @(Get-Command -Module AedDeploy -CommandType Cmdlet | ForEach-Object Name)
$problems = @(
    $exported | Where-Object { $_ -notin $content.Name } | ForEach-Object { "$_ has no entry in $ContentPath" }
    $content.Name | Where-Object { $_ -notin $exported } | ForEach-Object { "$_ is not a cmdlet that AedDeploy exports" }
    foreach ($entry in $content | Where-Object Name -In $exported) {
        $own = @(Get-OwnParameterName (Get-Command $entry.Name -Module AedDeploy))
        $own | Where-Object { -not $entry.Parameters.ContainsKey($_) } | ForEach-Object { "$($entry.Name): -$_ is not documented" }
        $entry.Parameters.Keys | Where-Object { $_ -notin $own } | ForEach-Object { "$($entry.Name): -$_ is documented but is not a parameter" }
        if (@($entry.Examples).Count -lt 2) { "$($entry.Name): has fewer than two examples" }
    }
)
if ($problems) { throw "The help content does not match the module $($module.Version) at $($module.ModuleBase):`n  $($problems -join "`n  ")" }

$ns = @{
    maml    = 'http://schemas.microsoft.com/maml/2004/10'
    command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
    dev     = 'http://schemas.microsoft.com/maml/dev/2004/10'
}

function Start-Element([string] $Prefix, [string] $Name) { $writer.WriteStartElement($Prefix, $Name, $ns[$Prefix]) }
function Stop-Element { $writer.WriteEndElement() }
function Write-Element([string] $Prefix, [string] $Name, [string] $Text) { $writer.WriteElementString($Prefix, $Name, $ns[$Prefix], $Text) }
function Write-Description([string[]] $Paragraphs) {
    Start-Element maml description
    foreach ($paragraph in $Paragraphs) { Write-Element maml para $paragraph }
    Stop-Element
}

function Get-PipelineInput($Attribute) {
    $kinds = @(
        if ($Attribute.ValueFromPipeline) { 'ByValue' }
        if ($Attribute.ValueFromPipelineByPropertyName) { 'ByPropertyName' }
    )
    if ($kinds) { "True ($($kinds -join ', '))" } else { 'False' }
}

function Write-Parameter($Command, [string] $Name, $Doc, [string] $SetName, [switch] $InSyntax) {
    $parameter = $Command.Parameters[$Name]
    $attributes = @($parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] })
    $attribute = $attributes | Where-Object { $_.ParameterSetName -in $SetName, '__AllParameterSets' } | Select-Object -First 1
    $type = $parameter.ParameterType
    $isSwitch = $type -eq [System.Management.Automation.SwitchParameter]
    Start-Element command parameter
    $writer.WriteAttributeString('required', ([string]$attribute.Mandatory).ToLowerInvariant())
    $writer.WriteAttributeString('variableLength', ([string]$type.IsArray).ToLowerInvariant())
    $writer.WriteAttributeString('globbing', 'false')
    $writer.WriteAttributeString('pipelineInput', (Get-PipelineInput $attribute))
    $writer.WriteAttributeString('position', $(if ($attribute.Position -ge 0) { [string]$attribute.Position } else { 'named' }))
    $writer.WriteAttributeString('aliases', $(if ($parameter.Aliases.Count) { $parameter.Aliases -join ', ' } else { 'none' }))
    Write-Element maml name $Name
    # Get-Help shows descriptions from the parameters section only, so the syntax items stay small.
    if (-not $InSyntax) { Write-Description $Doc.Description }
    $element = if ($type.IsArray) { $type.GetElementType() } else { $type }
    if ($InSyntax -and $element.IsEnum) {
        # The syntax line then reads -Layout {Release | InPlace}.
        Start-Element command parameterValueGroup
        foreach ($value in [Enum]::GetNames($element)) {
            Start-Element command parameterValue
            $writer.WriteAttributeString('required', 'false')
            $writer.WriteAttributeString('variableLength', 'false')
            $writer.WriteString($value)
            Stop-Element
        }
        Stop-Element
    }
    elseif (-not ($InSyntax -and $isSwitch)) {
        Start-Element command parameterValue
        $writer.WriteAttributeString('required', ([string](-not $isSwitch)).ToLowerInvariant())
        $writer.WriteAttributeString('variableLength', ([string]$type.IsArray).ToLowerInvariant())
        $writer.WriteString($(if ($isSwitch) { 'SwitchParameter' } else { $type.Name }))
        Stop-Element
    }
    Start-Element dev type
    Write-Element maml name $type.FullName
    Write-Element maml uri ''
    Stop-Element
    Write-Element dev defaultValue $Doc.Default
    Stop-Element
}

function Get-OrderedParameter($ParameterSet) {
    # As PowerShell's own help orders them: positional by position, then mandatory, then the rest in
    # declaration order, and WhatIf and Confirm last.
    $parameters = @($ParameterSet.Parameters | Where-Object { $_.Name -notin $common -or $_.Name -in 'WhatIf', 'Confirm' })
    @($parameters | Where-Object Position -GE 0 | Sort-Object Position) +
    @($parameters | Where-Object { $_.Position -lt 0 -and $_.IsMandatory }) +
    @($parameters | Where-Object { $_.Position -lt 0 -and -not $_.IsMandatory -and $_.Name -notin 'WhatIf', 'Confirm' }) +
    @($parameters | Where-Object Name -In 'WhatIf', 'Confirm')
}

$OutputPath = [IO.Path]::GetFullPath($OutputPath)
New-Item -ItemType Directory -Force (Split-Path $OutputPath) | Out-Null
# Written aside and moved into place at the end, so that a failure leaves the committed file as it was.
$partial = "$OutputPath.partial"
$settings = [System.Xml.XmlWriterSettings]@{ Indent = $true; IndentChars = '  '; NewLineChars = "`n"; Encoding = [System.Text.UTF8Encoding]::new($false) }
$writer = [System.Xml.XmlWriter]::Create($partial, $settings)
try {
    $writer.WriteStartDocument()
    $writer.WriteStartElement('helpItems', 'http://msh')
    $writer.WriteAttributeString('schema', 'maml')
    foreach ($entry in $content) {
        $command = Get-Command $entry.Name -Module AedDeploy
        Start-Element command command
        foreach ($prefix in 'maml', 'command', 'dev') { $writer.WriteAttributeString('xmlns', $prefix, $null, $ns[$prefix]) }

        Start-Element command details
        Write-Element command name $command.Name
        Write-Element command verb $command.Verb
        Write-Element command noun $command.Noun
        Write-Description @($entry.Synopsis)
        Stop-Element
        Write-Description $entry.Description

        $sets = @($command.ParameterSets | Sort-Object { -not $_.IsDefault })
        Start-Element command syntax
        foreach ($set in $sets) {
            Start-Element command syntaxItem
            Write-Element maml name $command.Name
            foreach ($parameter in Get-OrderedParameter $set) { Write-Parameter $command $parameter.Name $entry.Parameters[$parameter.Name] $set.Name -InSyntax }
            Stop-Element
        }
        Stop-Element

        Start-Element command parameters
        $written = [System.Collections.Generic.HashSet[string]]::new()
        foreach ($set in $sets) {
            foreach ($parameter in Get-OrderedParameter $set) {
                if ($written.Add($parameter.Name)) { Write-Parameter $command $parameter.Name $entry.Parameters[$parameter.Name] $set.Name }
            }
        }
        Stop-Element

        Start-Element command inputTypes
        foreach ($inputType in $entry.Inputs) {
            Start-Element command inputType
            Start-Element dev type; Write-Element maml name $inputType.Type; Stop-Element
            Write-Description @($inputType.Description)
            Stop-Element
        }
        Stop-Element

        Start-Element command returnValues
        foreach ($output in $entry.Outputs) {
            Start-Element command returnValue
            Start-Element dev type; Write-Element maml name $output.Type; Stop-Element
            Write-Description @($output.Description)
            Stop-Element
        }
        Stop-Element

        if ($entry['Notes']) {
            Start-Element maml alertSet
            Start-Element maml alert
            foreach ($note in $entry['Notes']) { Write-Element maml para $note }
            Stop-Element
            Stop-Element
        }

        Start-Element command examples
        $number = 0
        foreach ($example in $entry.Examples) {
            $number++
            Start-Element command example
            Write-Element maml title "--------- Example $($number): $($example.Title) ---------"
            Write-Element dev code ($example.Code.Trim() -replace "`r`n", "`n")
            Start-Element dev remarks
            foreach ($remark in $example.Remarks) { Write-Element maml para ($remark -replace "`r`n", "`n") }
            # An empty paragraph leaves a blank line before the next example's title.
            Write-Element maml para ''
            Stop-Element
            Stop-Element
        }
        Stop-Element

        Start-Element command relatedLinks
        foreach ($link in $entry.Links) {
            Start-Element maml navigationLink
            Write-Element maml linkText $link
            Write-Element maml uri ''
            Stop-Element
        }
        Stop-Element
        Stop-Element
    }
    $writer.WriteEndElement()
    $writer.WriteEndDocument()
}
finally {
    $writer.Close()
}
Move-Item -Force $partial $OutputPath
Write-Host "Wrote ${OutputPath}: $($content.Count) cmdlets, from AedDeploy $($module.Version) at $($module.ModuleBase)."

# The defaults a fresh cmdlet holds, beside the documented ones, for a reader to compare (the documented
# ones say it in words: '20 minutes', 'The live release''s origin').
foreach ($entry in $content) {
    $type = (Get-Command $entry.Name -Module AedDeploy).ImplementingType
    $fresh = [Activator]::CreateInstance($type)
    foreach ($name in $entry.Parameters.Keys | Sort-Object) {
        $property = $type.GetProperty($name)
        if (-not $property) { continue }
        $value = $property.GetValue($fresh)
        if ($value -is [array]) { $value = "@($($value -join ', '))" }
        Write-Verbose ('{0,-26} {1,-22} holds {2,-24} documented {3}' -f $entry.Name, $name, "$value", $entry.Parameters[$name].Default)
    }
}
