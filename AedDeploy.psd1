@{
    # The single source of the module's version and of what it exports.
    # The loader comes first: it resolves the engine and its dependencies into the module's own load context.
    NestedModules        = @('AedDeploy.Loader.dll', 'AedDeploy.dll')
    ModuleVersion        = '0.1.0'
    GUID                 = '6f0c8c1e-2b7d-4d55-9a51-3a9f1e7d2c40'
    Author               = 'AedDeploy contributors'
    CompanyName          = 'AedDeploy'
    Copyright            = '(c) 2026 AedDeploy contributors. MIT License.'
    Description          = 'Zero-downtime deploys of Node.js web apps (Next.js under PM2 cluster mode behind nginx) to Linux servers over SSH: each phase a cmdlet that pipes a typed result to the next, health proven for real, automatic rollback.'
    PowerShellVersion    = '7.6'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('AedDeploy.format.ps1xml')
    CmdletsToExport      = @(
        'New-DeploySession'
        'Remove-DeploySession'
        'Invoke-DeployCommand'
        'Backup-Build'
        'Invoke-RemoteBuild'
        'Test-BuildArtifact'
        'Switch-Release'
        'Get-Release'
        'Invoke-Pm2Reload'
        'Test-AppHealth'
        'Restore-Build'
        'Clear-NginxCache'
        'Invoke-ZeroDowntimeDeploy'
        'Get-DeployHistory'
        'Unlock-Deploy'
        'Initialize-DeployTarget'
        'Repair-DeployTarget'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('deploy', 'deployment', 'zero-downtime', 'ssh', 'pm2', 'nextjs', 'nodejs', 'nginx', 'rollback', 'Linux', 'PSEdition_Core')
            ProjectUri   = 'https://github.com/aeddeploy/AedDeploy'
            LicenseUri   = 'https://github.com/aeddeploy/AedDeploy/blob/main/module/LICENSE.txt'
            ReleaseNotes = @'
0.1.0: verified SSH sessions reused by every phase (and a local transport); the phase cmdlets (backup, remote
build, artifact check, release switch and listing, PM2 reload, health, restore, nginx cache); the composed
Invoke-ZeroDowntimeDeploy with lock, history, boot test and automatic rollback; Initialize-DeployTarget.
Fleets: several sessions deploy as one fleet (one build shipped to every host, a barrier on the build's identity,
batches, one rollback for the whole fleet, a static pool served by nginx); Repair-DeployTarget puts a host right.
'@
        }
    }
}
