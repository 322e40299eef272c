# The prose of the AedDeploy cmdlets' help: one entry per exported cmdlet (synopsis, description, every
# parameter with its default, inputs, outputs, notes, examples, links). New-AedDeployHelp.ps1 turns it into
# module/en-US/AedDeploy.dll-Help.xml and takes parameter types, positions, sets, aliases and pipeline input
# from the built cmdlets themselves, so only what a person must write lives here.
# Times: every TimeSpan parameter marked [TimeSpanSeconds] takes a TimeSpan, 'hh:mm:ss' or a number of seconds,
# and refuses zero or less at binding (ParameterArgumentTransformationError); say so where it is documented.
$app = @{
    Session       = @{
        Description = @(
            'The deploy session to run on, from New-DeploySession. It is reused for every command, so no phase opens a connection of its own.'
            'Binds by property name: the result of every phase cmdlet carries the session it ran on, so the next phase in a pipeline takes it from there.'
        )
        Default     = 'None'
    }
    AppPath       = @{
        Description = @(
            "The app's root on the server, an absolute path (no '..', no line breaks). Release layout: the folder that holds releases/, current, shared/ and .aeddeploy/. InPlace layout: the git checkout itself."
            'Binds by property name from the previous phase''s result. A relative or malformed path stops the cmdlet with the error InvalidRemotePath before anything runs.'
        )
        Default     = 'None'
    }
    AppName       = @{
        Description = @(
            "The app's name in PM2 (as 'pm2 list' shows it): 1 to 64 letters, digits, '.', '-' or '_', starting with a letter or digit. Any other name stops the cmdlet with the error InvalidAppName before anything runs, so a name can never smuggle shell text."
            'Binds by property name from the previous phase''s result. Tab completion offers the apps PM2 runs on the server of the -Session typed before it.'
        )
        Default     = 'None'
    }
    Layout        = @{
        Description = @(
            'How the app is laid out on the server. Release (the default): releases/<id> folders, a current symlink switched atomically, shared/ and .aeddeploy/; zero-downtime. InPlace: one checkout with .next and .next.backup, as a hand-written deploy script keeps it; its build rewrites the live .next, so it is never zero-downtime. See about_AedDeploy.'
            'Binds by property name, so a phase result passes its layout on.'
        )
        Default     = 'Release'
    }
    Pm2Path       = @{
        Description = @(
            'How PM2 is called on the server, when pm2 is not on the PATH of non-interactive SSH sessions (nvm and project-local installs often are not): a command name or an absolute path such as /home/deploy/.nvm/versions/node/v22.11.0/bin/pm2.'
        )
        Default     = 'pm2'
    }
    EcosystemFile = @{
        Description = @(
            "The PM2 ecosystem file's name, in the app's live folder (current, or the checkout). It must be a plain file name: a path or a name starting with '.' is refused with the error InvalidEcosystemFile. The file is read to check wait_ready and the env keys, and passed to pm2 reload; when it does not exist, PM2 is called with the app name alone."
        )
        Default     = 'ecosystem.config.cjs'
    }
}

$health = @{
    Url               = @{
        Description = @(
            'The URLs to probe, such as http://127.0.0.1:3000/api/health (from the server, the default) or https://www.example.com/ (with -Source Client). Every URL must answer as expected -RequiredSuccesses times in a row. Without a URL only PM2 is checked.'
        )
        Default     = 'None (PM2 only)'
    }
    ExpectedStatus    = @{ Description = @('The HTTP status every answer must have, from 100 to 599.'); Default = '200' }
    ContentPattern    = @{
        Description = @(
            "A regular expression each answer's body must match, such as '""version"":""2""' for a health route that names the version. Bodies are read up to 64 KB."
        )
        Default     = 'None'
    }
    ExpectedBuildId   = @{
        Description = @(
            'The Next.js build id every answer must show: in its X-Build-Id response header (which AedDeploy''s ready preload adds; an answer with another id there fails even if its body names this one) or, without the header, anywhere in the body. An answer that shows no build id fails. This proves the answer comes from this build and not from an old worker, another server or a cache. Pass the BuildId of Invoke-RemoteBuild''s result. Restore-Build without it checks the backup''s build id wherever the answers show one.'
        )
        Default     = 'None'
    }
    Source            = @{
        Description = @(
            'Where the probes are sent from. Server (the default): from the server through the session, with curl, as a hand-written deploy script does; it reaches apps that listen on loopback only, and needs curl on the server. Client: from the machine running the module, as a visitor would; use it for the public address through nginx.'
        )
        Default     = 'Server'
    }
    MaximumRetryCount = @{
        Description = @(
            'How many times a URL is tried again after a failed probe (0 to 100). A failure restarts the count of successes in a row. Each retry is written to Verbose.'
        )
        Default     = '5'
    }
    RetryIntervalSec  = @{ Description = @('The seconds to wait before each retry of a failed probe (0 to 3600; fractions allowed). The wait is cancelled by Ctrl+C.'); Default = '3' }
    RequiredSuccesses = @{ Description = @('How many answers in a row each URL must pass (1 to 100); successive probes are 250 ms apart.'); Default = '3' }
    TimeoutSec        = @{ Description = @('The seconds one probe may take before it counts as failed with ''no answer within N s'' (0.1 to 600).'); Default = '5' }
    StabilizationSec  = @{
        Description = @(
            'The seconds, counted from the start of the check, during which PM2 must show no restart of any instance: the process list is read at the start and again once this window has passed. An app in a crash loop shows up here even while its other instances answer. The check waits only for the part of the window the probes did not already take.'
        )
        Default     = '3'
    }
    SkipPm2           = @{
        Description = @(
            'Leaves out the PM2 checks and probes only, for an app that PM2 does not run or a URL on another machine. With -SkipPm2 at least one -Url is needed (error NothingToCheck).'
        )
        Default     = 'False'
    }
}

$whatIf = @{ WhatIf = @{ Description = @('Shows what the cmdlet would change, without changing anything.'); Default = 'False' }
    Confirm         = @{ Description = @('Asks for confirmation before the change.'); Default = 'False' } }

# The lock and the history belong to the app's path: the cmdlets that work on them need no PM2 name.
$appState = @{
    Session = $app.Session
    AppPath = $app.AppPath
    AppName = @{
        Description = @(
            "The app's name in PM2, optional here: the lock and the history belong to -AppPath. When given, it is validated as for the other cmdlets (InvalidAppName) and recorded in the history entries this cmdlet writes."
            'Binds by property name. Tab completion offers the apps PM2 runs on the server of the -Session typed before it.'
        )
        Default     = 'None'
    }
    Layout  = @{
        Description = @('The app''s layout, recorded in the history entries this cmdlet writes; the lock and the history are under .aeddeploy/ in both layouts. Binds by property name.')
        Default     = 'Release'
    }
}

@(
    # ------------------------------------------------------------------------------------------------
    @{
        Name        = 'New-DeploySession'
        Synopsis    = 'Opens one verified SSH connection (or a local session) that every AedDeploy cmdlet reuses.'
        Description = @(
            'New-DeploySession connects to a deploy target over SSH and returns a DeploySession. Every other AedDeploy cmdlet takes it with -Session (or from the pipeline) and runs its commands over this one connection, so a phase costs tens of milliseconds per command instead of a new SSH handshake each time. Close it with Remove-DeploySession.'
            'The host key is always verified before anything is sent: against OpenSSH known_hosts (plain and hashed entries, @revoked markers honoured; ~/.ssh/known_hosts unless -KnownHostsPath says otherwise), or against a pinned SHA256 fingerprint (-HostKeyFingerprint). A host that known_hosts does not list is refused (SshHostKeyUnknown) unless -AcceptNewHostKey asks for trust on first use, which writes the key to known_hosts. A key that differs from the recorded one is refused as a possible attack (SshHostKeyMismatch), as is a revoked key (SshHostKeyRevoked) or one that does not have the pinned fingerprint (SshHostKeyFingerprintMismatch). Nothing is ever trusted silently, and no prompt can hang a non-interactive run. Only the algorithms of the key types recorded for the host are offered, and host certificates are not accepted.'
            'Authentication uses a private key file (OpenSSH or PEM format, with -KeyPassphrase when it is encrypted) and/or a password from -Credential. Refused connections and connection timeouts are retried (-ConnectRetryCount, with waits that start at -ConnectRetryInterval and double); authentication and host-key failures are never retried.'
            'Errors (FullyQualifiedErrorId starts with the id): HostKeyFingerprintWithAcceptNewHostKey (InvalidArgument); ParameterArgumentTransformationError (a -ConnectTimeout or -ConnectRetryInterval of zero or less, refused while the parameters are bound); SshKeyFileNotFound, SshKeyPassphraseRequired, SshKeyFileInvalid, SshNoCredential (InvalidArgument); SshAuthenticationFailed (AuthenticationError); SshConnectionRefused, SshConnectionFailed (ConnectionError); SshConnectTimeout (OperationTimeout); SshHostKeyUnknown, SshHostKeyMismatch, SshHostKeyRevoked, SshHostKeyFingerprintMismatch (SecurityError). All of them are terminating.'
            'With -Local, the session runs bash on this machine as the current user, with no SSH at all: for a deploy run on the server itself, and for rehearsals.'
        )
        Parameters  = @{
            HostName             = @{ Description = @('The server to connect to: a DNS name or an IP address.'); Default = 'None' }
            Port                 = @{ Description = @('The SSH port, 1 to 65535.'); Default = '22' }
            UserName             = @{ Description = @('The user to log in as.'); Default = 'The -Credential user name, else the current local user name' }
            KeyFilePath          = @{ Description = @('A private key file in OpenSSH or PEM format (ed25519, ECDSA or RSA). A PowerShell path: ~ and relative paths are resolved. A missing file is the error SshKeyFileNotFound; an unreadable one SshKeyFileInvalid.'); Default = 'None' }
            KeyPassphrase        = @{ Description = @('The passphrase of an encrypted key file, as a SecureString (Read-Host -AsSecureString, or a secret store). Without it an encrypted key is the error SshKeyPassphraseRequired.'); Default = 'None' }
            Credential           = @{ Description = @('A user name and password for password authentication, tried after the key when both are given. Its user name is used when -UserName is not given. The password is never logged.'); Default = 'None' }
            KnownHostsPath       = @{ Description = @('The OpenSSH known_hosts file that host keys are checked against, and that -AcceptNewHostKey writes to.'); Default = '~/.ssh/known_hosts' }
            HostKeyFingerprint   = @{ Description = @("Pins the server's host key by its SHA256 fingerprint, as 'ssh-keygen -lf' prints it ('SHA256:' followed by 43 base64 characters; the prefix may be left out). When it is given, it alone decides trust and known_hosts is not read. Cannot be used with -AcceptNewHostKey."); Default = 'None' }
            AcceptNewHostKey     = @{ Description = @('Trust on first use: when known_hosts has no entry for the host, trust the key it presents and add it to known_hosts. A host that has an entry is still checked against it. Cannot be used with -HostKeyFingerprint.'); Default = 'False' }
            ConnectTimeout       = @{ Description = @("How long one connection attempt may take: a TimeSpan, '00:00:30', or a number of seconds (-ConnectTimeout 30). Must be longer than zero (error ParameterArgumentTransformationError)."); Default = '15 seconds' }
            ConnectRetryCount    = @{ Description = @('How many times a refused or timed-out connection is tried again (0 to 20). Authentication and host-key failures are never retried.'); Default = '3' }
            ConnectRetryInterval = @{ Description = @('The wait before the first retry of a connection; each later wait doubles. A TimeSpan, ''00:00:02'', or a number of seconds; must be longer than zero.'); Default = '1 second' }
            Local                = @{ Description = @('Opens a session on this machine instead: commands run in bash as the current user, without SSH.'); Default = 'False' }
        }
        Inputs      = @(
            @{ Type = 'System.String'; Description = 'HostName, Port, UserName and KeyFilePath bind by property name, so objects describing servers (from Import-Csv, for example) can be piped in.' }
        )
        Outputs     = @(
            @{ Type = 'AedDeploy.DeploySession'; Description = 'The open session: its target, state, host key algorithm and SHA256 fingerprint, and the server''s SSH version.' }
        )
        Notes       = @(
            'One session holds one SSH connection. A dropped connection is noticed (State becomes Disconnected) and a cmdlet given such a session fails with SessionNotOpen: open a new one.'
        )
        Examples    = @(
            @{
                Title   = 'Open a session with a key file'
                Code    = @'
$session = New-DeploySession -HostName web1.example.com -UserName deploy -KeyFilePath ~/.ssh/deploy_ed25519
$session
'@
                Remarks = @(
                    'Connects as deploy, checking the host key against ~/.ssh/known_hosts. The session shows as:'
                    @'
Target                         State        HostKey
------                         -----        -------
deploy@web1.example.com:22     Open         SHA256:p2QAMXNIC1TJYWeIOttrVc98/…
'@
                )
            }
            @{
                Title   = 'Connect to a new server once, trusting its key on first use'
                Code    = @'
$session = New-DeploySession web2.example.com -UserName deploy -KeyFilePath ~/.ssh/deploy_ed25519 -AcceptNewHostKey -Verbose
$session.HostKeyFingerprint
'@
                Remarks = @('Records the key of web2 in known_hosts when it has no entry yet. Compare the fingerprint with ''ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub'' run on the server. Later connections are checked against the recorded key.')
            }
            @{
                Title   = 'Pin the host key in CI, with the key and its passphrase from secrets'
                Code    = @'
$passphrase = ConvertTo-SecureString $env:DEPLOY_KEY_PASSPHRASE -AsPlainText -Force
$session = New-DeploySession -HostName $env:DEPLOY_HOST -UserName deploy -KeyFilePath ./deploy_key `
    -KeyPassphrase $passphrase -HostKeyFingerprint $env:DEPLOY_HOST_FINGERPRINT -ConnectTimeout 30
try {
    Invoke-DeployCommand -Session $session -Command 'uptime'
}
finally {
    Remove-DeploySession -Session $session
}
'@
                Remarks = @('A CI runner has no known_hosts: pinning the fingerprint (kept as a CI variable) verifies the server without one. The finally block closes the connection also when a step fails.')
            }
            @{
                Title   = 'Open sessions to several servers from a CSV file'
                Code    = @'
$sessions = Import-Csv ./servers.csv | New-DeploySession -KeyFilePath ~/.ssh/deploy_ed25519
$sessions | Format-Table
'@
                Remarks = @('servers.csv has the columns HostName, Port and UserName; they bind by property name.')
            }
            @{
                Title   = 'A session on this machine'
                Code    = @'
$local = New-DeploySession -Local
Invoke-DeployCommand -Session $local -Command 'pm2 --version'
'@
                Remarks = @('Runs commands in a local bash, for a deploy run on the server itself.')
            }
        )
        Links       = @('about_AedDeploy', 'Remove-DeploySession', 'Invoke-DeployCommand')
    }
    # ------------------------------------------------------------------------------------------------
    @{
        Name        = 'Remove-DeploySession'
        Synopsis    = 'Closes deploy sessions.'
        Description = @(
            'Remove-DeploySession closes the SSH connection of each session it is given; their State becomes Closed and cmdlets given them afterwards fail with SessionNotOpen. Closing a session that is already closed, or whose connection was lost, is harmless.'
            'Sessions are taken from -Session or from the pipeline, so a script can close every session it opened in a finally block.'
        )
        Parameters  = @{
            Session = @{ Description = @('The sessions to close, from New-DeploySession. Accepts pipeline input, including the result of any phase cmdlet (by its Session property).'); Default = 'None' }
        } + $whatIf
        Inputs      = @(@{ Type = 'AedDeploy.DeploySession'; Description = 'Sessions, or any object with a Session property, can be piped in.' })
        Outputs     = @(@{ Type = 'None'; Description = 'The cmdlet returns nothing; -Verbose says which sessions were closed.' })
        Examples    = @(
            @{
                Title   = 'Close a session'
                Code    = 'Remove-DeploySession -Session $session -Verbose'
                Remarks = @('VERBOSE: Closed the session to deploy@web1.example.com:22.')
            }
            @{
                Title   = 'Close every session a script opened, also when it fails'
                Code    = @'
$sessions = 'web1.example.com', 'web2.example.com' | ForEach-Object {
    New-DeploySession -HostName $_ -UserName deploy -KeyFilePath ~/.ssh/deploy_ed25519
}
try {
    foreach ($session in $sessions) {
        Invoke-DeployCommand -Session $session -Command 'df -h /srv' -ErrorOnNonZeroExit
    }
}
finally {
    $sessions | Remove-DeploySession
}
'@
                Remarks = @('The sessions are piped to Remove-DeploySession, which closes each one in turn.')
            }
        )
        Links       = @('about_AedDeploy', 'New-DeploySession')
    }
    # ------------------------------------------------------------------------------------------------
    @{
        Name        = 'Invoke-DeployCommand'
        Synopsis    = "Runs a bash command on a deploy session's target and returns how it ended."
        Description = @(
            'Invoke-DeployCommand runs a command with bash on the server of a session, over the session''s connection, for the steps a custom pipeline needs beyond the phase cmdlets (a migration, a smoke script, a look at the logs). Output lines reach the Verbose stream, and the Information stream (tags AedDeploy.Output and AedDeploy.Error), while the command runs; the CommandResult says how it ended: exit status, output, standard error, duration.'
            'Values are passed with -ArgumentList, never pasted into the command: they arrive as $1, $2, ... quoted by the module, so a value such as ''main; rm -rf /'' stays a value. Write the command text itself as a literal (single-quoted) string.'
            'Each command runs in its own process group on the server: when -Timeout passes or Ctrl+C is pressed, the whole group (the command and everything it started) is ended. A timeout is the terminating error RemoteCommandTimeout (OperationTimeout); a lost connection is SshConnectionLost; a closed session is SessionNotOpen. A -Timeout of zero or less is refused while the parameters are bound (ParameterArgumentTransformationError).'
            'A non-zero exit status is not an error by itself: the result says it (Succeeded is False). With -ErrorOnNonZeroExit it is written as the non-terminating error RemoteCommandFailed (InvalidResult) with the last lines of output, and no result is returned.'
        )
        Parameters  = @{
            Session            = @{ Description = @('The session whose target runs the command, from New-DeploySession. Binds by property name.'); Default = 'None' }
            Command            = @{ Description = @('The bash script to run. It sees -ArgumentList as $1, $2, ... . It runs in a non-interactive shell: what .bashrc sets for interactive shells (nvm, for example) may be missing.'); Default = 'None' }
            ArgumentList       = @{ Description = @('Values passed to the command as $1, $2, ..., each quoted, so that they are never read as command text. Empty strings are allowed.'); Default = 'None' }
            Timeout            = @{ Description = @("How long the command may run before it and every process it started are stopped: a TimeSpan, '00:05:00', or a number of seconds (-Timeout 30). Must be longer than zero."); Default = '10 minutes' }
            ErrorOnNonZeroExit = @{ Description = @('Writes the error RemoteCommandFailed, with the tail of the output, when the command exits with a non-zero status, instead of returning the result. Use -ErrorAction Stop to make it stop a script.'); Default = 'False' }
        } + $whatIf
        Inputs      = @(@{ Type = 'AedDeploy.DeploySession'; Description = 'An object with a Session property (any phase result) can be piped in; -Session binds by property name.' })
        Outputs     = @(@{ Type = 'AedDeploy.CommandResult'; Description = 'HostName, Command, ExitStatus (128 + n when ended by signal n), Output, Error, Duration and Succeeded.' })
        Examples    = @(
            @{
                Title   = 'Run a command and read its output'
                Code    = @'
Invoke-DeployCommand -Session $session -Command 'df -h /srv | tail -n 1'
'@
                Remarks = @(
                    'Returns a CommandResult; the table shows the exit status, the time and the last output line.'
                    @'
Exit    Time Command                      Output
----    ---- -------                      ------
   0   0.03s df -h /srv | tail -n 1       /dev/sda1        80G   31G   49G  39%…
'@
                )
            }
            @{
                Title   = 'Pass values as arguments, never as command text'
                Code    = @'
$branch = 'feature/checkout-v2'
$result = Invoke-DeployCommand -Session $session -Command 'git -C "$1" log -1 --format=%H "origin/$2"' -ArgumentList '/srv/apps/shop/current', $branch
$result.Output.Trim()
'@
                Remarks = @('The path and the branch reach git as $1 and $2, quoted; nothing in them can run as a command.')
            }
            @{
                Title   = 'Stop a script when a command fails'
                Code    = @'
Invoke-DeployCommand -Session $session -Command 'cd /srv/apps/shop/current && npx prisma migrate deploy' -Timeout 300 -ErrorOnNonZeroExit -ErrorAction Stop
'@
                Remarks = @('A failed migration becomes the error RemoteCommandFailed with the tail of its output; -ErrorAction Stop makes it terminating. The migration may run for 300 seconds.')
            }
        )
        Links       = @('about_AedDeploy', 'New-DeploySession')
    }
    # ------------------------------------------------------------------------------------------------
    @{
        Name        = 'Backup-Build'
        Synopsis    = 'Keeps the live build as the rollback target: the live release (Release layout) or a copy of .next (InPlace).'
        Description = @(
            'Backup-Build makes sure a deploy has something healthy to go back to, and returns a BuildBackup that Restore-Build takes.'
            'Release layout: the release current points at is recorded as the rollback target in .aeddeploy/rollback-target, which also keeps it from being pruned. Nothing is copied.'
            'InPlace layout: the live .next (without its cache folder) is copied to .next.backup. The copy is made aside and renamed into place, so .next.backup is never half-written, and a failed copy leaves the previous backup as it was. The commit and build id are recorded in .aeddeploy/backup.json, and /.aeddeploy/ and /.next.backup* are added to .git/info/exclude so that git never sees them.'
            'The live build is inspected first, as Test-BuildArtifact does: a build that is not complete is never backed up, since a rollback to it would be an outage (error BuildIncomplete).'
            'Errors: NoLiveRelease (current is not a link into releases/; ObjectNotFound), BuildIncomplete (InvalidResult), BackupFailed (the copy or reading the commit failed), ArtifactInspectionFailed (node is missing on the server), RollbackTargetWriteFailed, SessionNotOpen, InvalidAppName, InvalidRemotePath, InvalidEcosystemFile. All are terminating.'
        )
        Parameters  = $app + $whatIf
        Inputs      = @(@{ Type = 'System.Object'; Description = 'Any object with Session, AppPath, AppName and Layout properties (a phase result, or a [pscustomobject] describing the app) binds by property name.' })
        Outputs     = @(@{ Type = 'AedDeploy.BuildBackup'; Description = 'ReleaseId (Release layout), BackupPath, Commit, BuildId, CreatedAt, Duration, and the Session, AppPath, AppName and Layout that Restore-Build takes from it.' })
        Notes       = @('Call Backup-Build before Invoke-RemoteBuild: in the InPlace layout the build rewrites the live .next, and the backup is the only complete build left.')
        Examples    = @(
            @{
                Title   = 'Record the live release before a deploy'
                Code    = @'
$backup = Backup-Build -Session $session -AppPath /srv/apps/shop -AppName shop
$backup
'@
                Remarks = @(
                    'In the Release layout the live release becomes the rollback target:'
                    @'
App            Backup            Commit   BuildId               Created    Time
---            ------            ------   -------               -------    ----
shop           20261120T101500Z  3f9c2a1d Qm3x9ZpL0aTtV1k2cD7eF 10:15:02   0.4s
'@
                )
            }
            @{
                Title   = 'Back up an InPlace checkout, then restore it when the build fails'
                Code    = @'
$app = @{ Session = $session; AppPath = '/var/www/shop'; AppName = 'shop'; Layout = 'InPlace' }
$backup = Backup-Build @app
try {
    Invoke-RemoteBuild @app -Ref main -Confirm:$false | Test-BuildArtifact -Strict -ErrorAction Stop | Invoke-Pm2Reload -Confirm:$false
}
catch {
    $backup | Restore-Build -Url http://127.0.0.1:3000/api/health -Confirm:$false
    throw
}
'@
                Remarks = @('The backup carries the session and the app, so it is all Restore-Build needs besides the health check.')
            }
        )
        Links       = @('about_AedDeploy', 'Restore-Build', 'Test-BuildArtifact', 'Get-Release')
    }
    # ------------------------------------------------------------------------------------------------
    @{
        Name        = 'Invoke-RemoteBuild'
        Synopsis    = 'Gets the code of a branch, tag or commit onto the server and builds it: in a new release (Release layout) or in the checkout (InPlace).'
        Description = @(
            'Invoke-RemoteBuild is the build phase. -Ref is validated first as a git ref (letters, digits and / . - _ +; no spaces, quotes, '';'', ''$'', backquotes, ''..'' or a leading ''-''): anything else is the error InvalidGitRef, before anything runs.'
            'Release layout: the ref is cloned into a new folder releases/<id> (objects borrowed from the live release, so it is fast), the entries of shared/ (such as .env) are linked into it, dependencies are installed, the Prisma client is generated when the app has prisma/schema.prisma, and the build command runs there. The live release is never touched: the running app keeps serving while this happens. The release gets a record in .aeddeploy/releases/<id>.json (Building, then Built); a release that fails is kept aside, marked Failed with the error id as its reason, for inspection.'
            'InPlace layout: the checkout is fetched and reset to the ref, as a hand-written deploy script does, then installed and built where it is. next build wipes the live .next about a second after it starts and rebuilds it over several seconds, while the running workers read it: pages and static chunks answer 500 during that time. The in-place build is therefore never zero-downtime; the Release layout exists for this reason. The checkout''s own origin is fetched: -Repository and -ReleaseId are refused in this layout (InPlaceTakesNoRelease) before anything runs.'
            'Dependencies: with pnpm-lock.yaml or yarn.lock, a frozen-lockfile install; with package-lock.json, npm ci, or, when the lockfile is the same as the live release''s, node_modules hard-linked from the live release and npm install run over it (install mode ''install'', well under a second); InPlace with an unchanged lockfile skips the install (''skipped''). Output of every step streams to Verbose as it comes.'
            'Build cache (Release layout): before the build, the live release''s .next/cache is copied into the new release, so next build starts warm (measured on the fixture: 15.7 s cold, 8.9 s with the cache). It is a real copy, a reflink (cp --reflink) where the file system offers one, never hard links: next build rewrites its cache files in place, and the live release''s must stay as they are. The image optimizer''s cache (.next/cache/images) belongs to the running app and stays behind. A copy that fails only costs time: the build starts cold with a warning. BuildResult.BuildCache says which it was (reflink, copy, none or failed) and BuildCacheBytes how much. -SkipBuildCache builds clean.'
            'Errors (terminating): InvalidGitRef, InvalidRepository, InvalidReleaseId, InPlaceTakesNoRelease (InvalidArgument); BuildRefNotFound (the ref is not in the repository; ObjectNotFound; nothing was changed); ReleaseExists (the -ReleaseId folder exists); FetchFailed; SharedLinkFailed; DependencyInstallFailed, PrismaGenerateFailed, BuildFailed (InvalidResult, with the last lines of the output: the compiler''s message is in the error); RemoteCommandTimeout (-InstallTimeout or -BuildTimeout passed; the build''s processes are ended); SessionNotOpen.'
        )
        Parameters  = $app + $whatIf + @{
            Ref            = @{ Description = @('The branch (of origin), tag or commit to build. A commit may be given as 7 to 40 hex digits. Binds by property name (a ReleaseInfo''s Ref, for example), and takes the aliases -Branch and -Commit.'); Default = 'None' }
            Repository     = @{ Description = @('The git repository to clone from (Release layout), as git accepts it (an SSH or HTTPS address, or a path on the server). The server''s own git credentials are used. Refused with -Layout InPlace (InPlaceTakesNoRelease).'); Default = "The live release's origin" }
            BuildCommand   = @{ Description = @('The command that builds the app, run with bash in the release folder after the install.'); Default = 'npm run build' }
            BuildTimeout   = @{ Description = @("How long the build may run before it is stopped (error RemoteCommandTimeout): a TimeSpan, '00:30:00', or a number of seconds; must be longer than zero."); Default = '20 minutes' }
            InstallTimeout = @{ Description = @('How long installing the dependencies may take before it is stopped (error RemoteCommandTimeout): a TimeSpan or a number of seconds; must be longer than zero.'); Default = '15 minutes' }
            BuildNiceness  = @{ Description = @('The CPU niceness (0 to 19) the dependency install and the build run at on the server, with the lowest best-effort I/O priority (renice and ionice; where either is missing the step runs at normal priority), so that the live workers keep their latency. 0 runs them at normal priority.'); Default = '10' }
            SkipBuildCache = @{ Description = @('Starts the build without a copy of the live release''s .next/cache (Release layout): a clean build, as when a corrupt cache is suspected.'); Default = 'False' }
            ReleaseId      = @{ Description = @("The new release's folder name under releases/ (Release layout): 1 to 64 letters, digits, '.', '-' or '_'. An existing release is the error ReleaseExists. Refused with -Layout InPlace (InPlaceTakesNoRelease)."); Default = 'The UTC time, as 20261126T063700Z' }
        }
        Inputs      = @(@{ Type = 'System.Object'; Description = 'Session, AppPath, AppName, Layout, Pm2Path, EcosystemFile and Ref bind by property name.' })
        Outputs     = @(@{ Type = 'AedDeploy.BuildResult'; Description = 'ReleaseId, ReleasePath (the built folder, which Test-BuildArtifact takes as -Path), Ref, Commit, BuildId, InstallMode (ci, install or skipped), BuildCache (reflink, copy, none or failed) and BuildCacheBytes, PreviousReleaseId, Duration, and the session and app for the next phase.' })
        Notes       = @('The build runs as the SSH user, in a non-interactive shell: node, npm and git must be on that PATH.')
        Examples    = @(
            @{
                Title   = 'Build a branch into a new release'
                Code    = @'
Invoke-RemoteBuild -Session $session -AppPath /srv/apps/shop -AppName shop -Ref main -Verbose
'@
                Remarks = @(
                    'Verbose shows each command and the build output as it comes. The result:'
                    @'
Release           Ref          Commit   Install BuildId                  Time
-------           ---          ------   ------- -------                  ----
20261126T070102Z  main         a1b2c3d4 install x8Yz1AbC2dEf3GhI4jKl5   41.7s
'@
                )
            }
            @{
                Title   = 'The deploy pipeline, written out: build, check, switch, reload, prove'
                Code    = @'
$app = @{ Session = $session; AppPath = '/srv/apps/shop'; AppName = 'shop' }
Invoke-RemoteBuild @app -Ref v2.4.0 -BuildTimeout 1800 |
    Test-BuildArtifact -Strict |
    Switch-Release -Confirm:$false |
    Invoke-Pm2Reload -Confirm:$false |
    Test-AppHealth -Url http://127.0.0.1:3000/api/health -ContentPattern '"version":"2.4.0"'
'@
                Remarks = @('Each result carries the session, the app and the release to the next cmdlet. Test-BuildArtifact -Strict lets nothing through when the build is incomplete, so an incomplete release is never switched to.')
            }
            @{
                Title   = 'See which error a failed build raised'
                Code    = @'
try {
    Invoke-RemoteBuild -Session $session -AppPath /srv/apps/shop -AppName shop -Ref main -ErrorAction Stop
}
catch {
    $_.FullyQualifiedErrorId   # BuildFailed,AedDeploy.Cmdlets.InvokeRemoteBuildCommand
    $_.Exception.Message       # the last lines of next build's output
}
'@
                Remarks = @('The failed release stays under releases/ with Status Failed and Reason BuildFailed; Get-Release shows it.')
            }
        )
        Links       = @('about_AedDeploy', 'Test-BuildArtifact', 'Switch-Release', 'Backup-Build', 'Get-Release')
    }
    # ------------------------------------------------------------------------------------------------
    @{
        Name        = 'Test-BuildArtifact'
        Synopsis    = 'Checks that a Next.js build is complete enough for next start, check by check.'
        Description = @(
            'Test-BuildArtifact inspects the .next folder of a release (or of the live folder) with node on the server and reports each check. BUILD_ID alone proves nothing, since next build writes it before static generation ends; so the checks are:'
            '- BUILD_ID present and not empty; .next/server and .next/static are folders;'
            '- build-manifest.json, routes-manifest.json, prerender-manifest.json, required-server-files.json, server/pages-manifest.json and server/middleware-manifest.json exist and parse;'
            '- app routes: the server file of every route in server/app-paths-manifest.json exists;'
            '- static chunks: every chunk that build-manifest.json names exists and is not empty;'
            '- build finished: .next/export-marker.json, the last file next build writes (Next.js 13 to 16), exists;'
            '- node_modules/next is installed.'
            'The ArtifactReport says IsComplete when every check passed. With -Quiet only that Boolean is returned. With -Strict an incomplete build is written as the non-terminating error BuildIncomplete (InvalidResult) with the failed checks, and nothing is passed down the pipeline, so the next phase never sees it; add -ErrorAction Stop to make it stop a script. Failed checks are also written to Verbose.'
            'Errors: BuildIncomplete (with -Strict), ArtifactInspectionFailed (node could not run on the server; terminating), InvalidRemotePath, SessionNotOpen.'
        )
        Parameters  = $app + @{
            Path      = @{ Description = @('The folder whose .next is checked: a release folder, or any build on the server. Binds by property name from a BuildResult''s ReleasePath (alias -ReleasePath), so that a pipeline checks the release just built.'); Default = 'The live folder: current (Release) or the checkout (InPlace)' }
            ReleaseId = @{ Description = @('The release the folder belongs to; it is only copied to the report, so that Switch-Release after this cmdlet in a pipeline knows which release to switch to. Binds by property name.'); Default = 'None' }
            Quiet     = @{ Description = @('Returns only $true or $false: whether the build is complete.'); Default = 'False' }
            Strict    = @{ Description = @('Writes the error BuildIncomplete, and returns nothing, when the build is not complete: a pipeline goes no further.'); Default = 'False' }
        }
        Inputs      = @(@{ Type = 'AedDeploy.BuildResult'; Description = 'A BuildResult (or any object with Session, AppPath, AppName, Layout, and ReleasePath or Path, and ReleaseId) binds by property name.' })
        Outputs     = @(
            @{ Type = 'AedDeploy.ArtifactReport'; Description = 'ReleaseId, ReleasePath, BuildId, Checks (Name, Passed, Detail), IsComplete and Failures.' }
            @{ Type = 'System.Boolean'; Description = 'With -Quiet: whether the build is complete.' }
        )
        Examples    = @(
            @{
                Title   = 'Check the live build'
                Code    = @'
$report = Test-BuildArtifact -Session $session -AppPath /srv/apps/shop -AppName shop
$report
$report.Checks
'@
                Remarks = @(
                    'The report, then its checks:'
                    @'
Release           Build      Checks       BuildId               Failed
-------           -----      ------       -------               ------
current           complete   13/13 passed Qm3x9ZpL0aTtV1k2cD7eF
'@
                )
            }
            @{
                Title   = 'Only let a complete build through'
                Code    = @'
Invoke-RemoteBuild -Session $session -AppPath /srv/apps/shop -AppName shop -Ref main |
    Test-BuildArtifact -Strict -ErrorAction Stop |
    Switch-Release -Confirm:$false
'@
                Remarks = @('The report passes the release id on to Switch-Release; an incomplete build stops the pipeline with BuildIncomplete.')
            }
            @{
                Title   = 'Use it as a condition'
                Code    = @'
if (-not (Test-BuildArtifact -Session $session -AppPath /var/www/shop -AppName shop -Layout InPlace -Quiet)) {
    Write-Warning 'The live .next is incomplete: restore the backup.'
}
'@
                Remarks = @('After a failed in-place build the live .next is usually incomplete.')
            }
        )
        Links       = @('about_AedDeploy', 'Invoke-RemoteBuild', 'Switch-Release', 'Backup-Build')
    }
    # ------------------------------------------------------------------------------------------------
    @{
        Name        = 'Switch-Release'
        Synopsis    = 'Points current at a release in one atomic rename (Release layout).'
        Description = @(
            'Switch-Release makes a release the live one: a new symlink is made beside current and renamed over it, so no request ever finds current missing or half-made. The PM2 workers serve the new release after the next reload (Invoke-Pm2Reload); the running ones keep the folder they started in until then.'
            'Unless -Force is given, the release''s build is inspected first as Test-BuildArtifact does, and a release that is not complete is refused (error BuildIncomplete) with current left as it was.'
            'Only for the Release layout: with -Layout InPlace the cmdlet stops with SwitchReleaseRequiresReleaseLayout. Other errors (terminating): InvalidReleaseId, ReleaseSwitchFailed (for example when the release folder does not exist), ReleaseListFailed, ArtifactInspectionFailed, SessionNotOpen.'
            'The change is of high impact: PowerShell asks for confirmation unless -Confirm:$false is given or $ConfirmPreference is None.'
        )
        Parameters  = $app + $whatIf + @{
            ReleaseId = @{ Description = @("The release to point current at: its folder name under releases/. Binds by property name from BuildResult, ArtifactReport and ReleaseInfo (alias -Id)."); Default = 'None' }
            Force     = @{ Description = @('Switches without checking that the release''s build is complete.'); Default = 'False' }
        }
        Inputs      = @(@{ Type = 'AedDeploy.ArtifactReport'; Description = 'An ArtifactReport, BuildResult or ReleaseInfo (anything with Session, AppPath, AppName, Layout and ReleaseId) binds by property name.' })
        Outputs     = @(@{ Type = 'AedDeploy.ReleaseInfo'; Description = 'The release now live, as Get-Release describes it.' })
        Examples    = @(
            @{
                Title   = 'Switch to a release by id'
                Code    = @'
Switch-Release -Session $session -AppPath /srv/apps/shop -AppName shop -ReleaseId 20261126T070102Z
'@
                Remarks = @(
                    'Asks for confirmation, checks the build, switches, and shows the release now live:'
                    @'
Id                Role           Status   Ref        Commit   BuildId
--                ----           ------   ---        ------   -------
20261126T070102Z  live           Built    main       a1b2c3d4 x8Yz1AbC2dEf3Gh…
'@
                )
            }
            @{
                Title   = 'Go back to the rollback target by hand'
                Code    = @'
$app = @{ Session = $session; AppPath = '/srv/apps/shop'; AppName = 'shop' }
Get-Release @app | Where-Object IsRollbackTarget | Switch-Release -Confirm:$false | Invoke-Pm2Reload -Confirm:$false
'@
                Remarks = @('Restore-Build does the same and proves health after it; this is the manual form.')
            }
        )
        Links       = @('about_AedDeploy', 'Get-Release', 'Invoke-Pm2Reload', 'Test-BuildArtifact', 'Restore-Build')
    }
    # ------------------------------------------------------------------------------------------------
    @{
        Name        = 'Get-Release'
        Synopsis    = 'Lists the releases of a Release-layout app: which is live, which is the rollback target, their commits and builds.'
        Description = @(
            'Get-Release reads releases/, the current link, .aeddeploy/rollback-target and the release records, and returns one ReleaseInfo per release folder, oldest first. Status comes from the record AedDeploy wrote: Building, Built, Verified (was live and proved healthy), Failed or Cancelled (with the reason), or Unknown for a release made by hand. While the deploy lock is held by a deploy that stopped renewing it (killed, its machine lost), nothing builds any more: a release it left Building or Built (not live) is shown Failed, abandoned by that deploy, as the next deploy''s takeover (or Repair-DeployTarget) then records it. Commit and BuildId are read from the folder itself.'
            'Only for the Release layout: with -Layout InPlace the cmdlet stops with GetReleaseRequiresReleaseLayout. Other errors: ReleaseListFailed (node is missing on the server, for example), InvalidAppName, InvalidRemotePath, SessionNotOpen.'
        )
        Parameters  = $app + @{
            Live = @{ Description = @('Returns only the live release.'); Default = 'False' }
        }
        Inputs      = @(@{ Type = 'System.Object'; Description = 'Session, AppPath, AppName and Layout bind by property name.' })
        Outputs     = @(@{ Type = 'AedDeploy.ReleaseInfo'; Description = 'Id (and ReleaseId, the same), Path, Status, IsLive, IsRollbackTarget, Commit, Ref, BuildId, CreatedAt, VerifiedAt, Reason.' })
        Examples    = @(
            @{
                Title   = 'List the releases'
                Code    = 'Get-Release -Session $session -AppPath /srv/apps/shop -AppName shop'
                Remarks = @(
                    @'
Id                Role           Status   Ref        Commit   BuildId
--                ----           ------   ---        ------   -------
20261120T101500Z  rollback       Verified main       3f9c2a1d Qm3x9ZpL0aTtV1k…
20261126T063700Z                 Failed   feature/c… 9e8d7c6b
20261126T070102Z  live           Built    main       a1b2c3d4 x8Yz1AbC2dEf3Gh…
'@
                )
            }
            @{
                Title   = 'Find failed releases and why they failed'
                Code    = @'
Get-Release -Session $session -AppPath /srv/apps/shop -AppName shop |
    Where-Object Status -eq 'Failed' |
    Select-Object Id, Ref, Reason, Path
'@
                Remarks = @('A failed release is kept for inspection; Reason holds the error id of the phase that failed.')
            }
            @{
                Title   = 'Compare the live build with what a health route reports'
                Code    = @'
$live = Get-Release -Session $session -AppPath /srv/apps/shop -AppName shop -Live
Test-AppHealth -Session $session -AppPath /srv/apps/shop -AppName shop -Url http://127.0.0.1:3000/api/health -ExpectedBuildId $live.BuildId
'@
                Remarks = @('Proves the workers answer from the build current points at.')
            }
        )
        Links       = @('about_AedDeploy', 'Switch-Release', 'Backup-Build', 'Invoke-RemoteBuild')
    }
    # ------------------------------------------------------------------------------------------------
    @{
        Name        = 'Invoke-Pm2Reload'
        Synopsis    = "Reloads the app's PM2 workers one at a time and proves from the process list that every instance came back."
        Description = @(
            'Invoke-Pm2Reload runs pm2 reload for the app, from its live folder with its ecosystem file (--only <app> --update-env), one instance at a time (PM2_CONCURRENT_ACTIONS=1), so that an old worker is only replaced when the one before it is up.'
            'PM2''s own verdict is not trusted: pm2 reload exits 0 when a new worker crashes, and kills the old worker when listen_timeout passes whether or not the new one answers. So the process list is read before and after, and the reload only counts when every instance is back, online, in a new process, restarted exactly once (more than once is a crash loop). Every worker must also run what was built. Release layout: PM2''s stored cwd must be the current symlink path (a resolved path stays pinned to one release), and /proc/<pid>/cwd of each worker must resolve to the release current points at. InPlace layout: PM2''s stored cwd and /proc/<pid>/cwd of each worker must resolve to the checkout (-AppPath); a worker running from another folder serves another build (Pm2ReloadUnhealthy).'
            'Before reloading, the ecosystem file is read with node as PM2 reads it. Warnings (also in the result) are written when the app does not signal readiness (wait_ready with a ready preload; without it each instance waits the whole listen_timeout and an old worker can be killed before its replacement answers: see about_AedDeploy), and when env keys that the previous ecosystem file set and the new one dropped are still given to the app, since pm2 reload --update-env adds keys but never removes one. The previous ecosystem file is the one in the folder the old workers ran from (Release), or the one of the commit before the last reset of the checkout (InPlace: git''s ORIG_HEAD).'
            'When another pm2 reload holds PM2''s reload lock (PM2_HOME/reload.lock, which PM2 honours for 30 s and a reload cut short never clears), the reload waits for it instead of failing. After the reload, workers of the app that PM2''s daemon still runs but no longer lists (PM2 loses track of a worker when one instance is reloaded twice at once, or when workers in a crash loop are deleted; in cluster mode such a worker keeps taking its share of the connections) get two seconds to exit, then TERM, then KILL; each is named in a warning.'
            'Errors (terminating): Pm2ReloadFailed (pm2 reload itself failed, for example on a broken ecosystem file), Pm2ReloadUnhealthy (an instance is gone, not online, not restarted, restarted more than once, or in the wrong folder); the error''s TargetObject is the ReloadResult, with the process lists before and after. Also Pm2AppNotFound (PM2 runs no app of that name), Pm2ListFailed (pm2 not found: see -Pm2Path), Pm2ListUnreadable, RemoteCommandTimeout (-Timeout passed), SessionNotOpen.'
            'A reload is of high impact: PowerShell asks for confirmation unless -Confirm:$false is given.'
        )
        Parameters  = $app + $whatIf + @{
            Timeout = @{ Description = @("How long pm2 reload may take for all instances, after which it is stopped (error RemoteCommandTimeout): a TimeSpan, '00:10:00', or a number of seconds; must be longer than zero."); Default = '5 minutes' }
        }
        Inputs      = @(@{ Type = 'AedDeploy.ReleaseInfo'; Description = 'A ReleaseInfo from Switch-Release, an ArtifactReport (InPlace), or any object with Session, AppPath, AppName and Layout, binds by property name.' })
        Outputs     = @(@{ Type = 'AedDeploy.ReloadResult'; Description = 'ReleasePath (the release the workers must run from), Before and After (the PM2 instances), Instances, StaleEnvironmentKeys, Warnings, Duration.' })
        Notes       = @('PM2 reloads without downtime only processes that are online in cluster mode; anything else is restarted.')
        Examples    = @(
            @{
                Title   = 'Reload after a switch'
                Code    = @'
$reload = Invoke-Pm2Reload -Session $session -AppPath /srv/apps/shop -AppName shop -Confirm:$false
$reload
$reload.After
'@
                Remarks = @(
                    'The summary, then the instances after the reload:'
                    @'
App            Instances    Replaced       Release           Warnings    Time
---            ---------    --------       -------           --------    ----
shop           2/2 online   2/2 new pid    20261126T070102Z         0    2.1s

 Id Name       Status              Pid Restarts Uptime Cwd
 -- ----       ------              --- -------- ------ ---
  0 shop       online            52001        5     3s /srv/apps/shop/current
  1 shop       online            52002        5     2s /srv/apps/shop/current
'@
                )
            }
            @{
                Title   = 'See why a reload failed'
                Code    = @'
try {
    Switch-Release -Session $session -AppPath /srv/apps/shop -AppName shop -ReleaseId 20261126T070102Z -Confirm:$false |
        Invoke-Pm2Reload -Confirm:$false -ErrorAction Stop
}
catch {
    $_.FullyQualifiedErrorId
    $_.TargetObject.After | Format-Table
}
'@
                Remarks = @('The error''s TargetObject is the ReloadResult: the process list shows which instance is launching or errored.')
            }
        )
        Links       = @('about_AedDeploy', 'Switch-Release', 'Test-AppHealth', 'Restore-Build')
    }
    # ------------------------------------------------------------------------------------------------
    @{
        Name        = 'Test-AppHealth'
        Synopsis    = 'Proves the app healthy: HTTP probes pass several times in a row and PM2 keeps every instance online without a restart.'
        Description = @(
            'Test-AppHealth is the check a deploy must pass. Healthy means all of:'
            '- every PM2 instance of the app is online when the check ends;'
            '- no instance restarted, and none disappeared, during the stabilisation window (-StabilizationSec): an app in a crash loop fails here even when its other instances answer;'
            '- every -Url answered -RequiredSuccesses times in a row with -ExpectedStatus, matching -ContentPattern and coming from -ExpectedBuildId when they are given. A failed probe costs one retry (-MaximumRetryCount, -RetryIntervalSec) and starts the count again.'
            'The report''s Proof (and each probe''s) says how the answers were tied to the expected build, the weakest among them: BuildIdHeader (the X-Build-Id header), BuildIdBody (the id in the body) or Status (no build id: only the status and -ContentPattern were checked, and a warning says so).'
            'The check ends as soon as health is proven, instead of sleeping for a fixed time. Probes run from the server with curl (-Source Server, reaching loopback-only apps) or from this machine (-Source Client).'
            'The HealthReport is always returned. When the app is not healthy, the non-terminating error AppUnhealthy (InvalidResult) is written too, naming every problem; with -ErrorAction Stop it stops a script. With -Quiet only $true or $false is returned and no error is written.'
            'Other errors (terminating): NothingToCheck (-SkipPm2 without -Url), Pm2AppNotFound, Pm2ListFailed, Pm2ListUnreadable, SessionNotOpen, InvalidAppName, InvalidRemotePath.'
        )
        Parameters  = $app + $health + @{
            Quiet = @{ Description = @('Returns only $true (healthy) or $false, and writes no AppUnhealthy error.'); Default = 'False' }
        }
        Inputs      = @(@{ Type = 'AedDeploy.ReloadResult'; Description = 'A ReloadResult, or any object with Session, AppPath, AppName and Layout, binds by property name.' })
        Outputs     = @(
            @{ Type = 'AedDeploy.HealthReport'; Description = 'Healthy, Proof (Status, BuildIdHeader or BuildIdBody), Probes (Url, Passed, StatusCode, Attempts, ConsecutiveSuccesses, Elapsed, Error, Proof), Instances (the PM2 processes), Problems, Duration.' }
            @{ Type = 'System.Boolean'; Description = 'With -Quiet: whether the app is healthy.' }
        )
        Examples    = @(
            @{
                Title   = 'Check a health route and PM2'
                Code    = @'
Test-AppHealth -Session $session -AppPath /srv/apps/shop -AppName shop -Url http://127.0.0.1:3000/api/health
'@
                Remarks = @(
                    @'
App            Health    Probes       Instances      Time Problem
---            ------    ------       ---------      ---- -------
shop           healthy   1/1 passed   2/2 online     3.0s
'@
                )
            }
            @{
                Title   = 'Prove the new build answers, through nginx, from this machine'
                Code    = @'
$build = Invoke-RemoteBuild -Session $session -AppPath /srv/apps/shop -AppName shop -Ref main
$build | Test-BuildArtifact -Strict | Switch-Release -Confirm:$false | Invoke-Pm2Reload -Confirm:$false |
    Test-AppHealth -Url https://shop.example.com/api/health -Source Client -ExpectedBuildId $build.BuildId -RequiredSuccesses 5 -ErrorAction Stop
'@
                Remarks = @('Five answers in a row must come from the new build id (in an X-Build-Id header or the body), so an old worker or a cached page fails the check.')
            }
            @{
                Title   = 'Look at the probes of an unhealthy app'
                Code    = @'
$report = Test-AppHealth -Session $session -AppPath /srv/apps/shop -AppName shop -Url http://127.0.0.1:3000/ -MaximumRetryCount 1 -RetryIntervalSec 0.5 -ErrorAction SilentlyContinue
$report.Problems
$report.Probes | Format-Table
'@
                Remarks = @('An app that answers 500 while PM2 shows it online is unhealthy: the probe says HTTP 500, expected 200.')
            }
            @{
                Title   = 'Probe a URL alone, without PM2'
                Code    = @'
Test-AppHealth -Session $session -AppPath /srv/apps/shop -AppName shop -Url http://127.0.0.1:8080/ -SkipPm2 -Quiet
'@
                Remarks = @('Returns True or False.')
            }
        )
        Links       = @('about_AedDeploy', 'Invoke-Pm2Reload', 'Restore-Build')
    }
    # ------------------------------------------------------------------------------------------------
    @{
        Name        = 'Restore-Build'
        Synopsis    = 'Puts a backup from Backup-Build back live, reloads the workers onto it and proves health.'
        Description = @(
            'Restore-Build is the rollback. It takes the BuildBackup that Backup-Build returned (usually from the pipeline) and:'
            '- Release layout: checks that the backed-up release is a complete build, and points current back at it in one atomic rename;'
            '- InPlace layout: resets the checkout to the backup''s commit and swaps .next.backup in for .next in one step (or two renames where the system cannot swap), so .next is never missing; when the lockfile changed, the backup''s dependencies are installed again;'
            '- then reloads the PM2 workers onto it. Workers stuck in a crash loop (not online) are restarted instead of reloaded, since there is no healthy worker left to keep;'
            '- then proves health with the same checks as Test-AppHealth (the health parameters are the same). Without -ExpectedBuildId, every answer that shows a build id (an X-Build-Id header, or the backup''s id in the body) must show the backup''s BuildId: the restored build must be the one answering.'
            'Restoring twice does no harm. The backup must be of this app on this server: a backup whose AppName, AppPath, Layout or HostName differs from the parameters (and the session) is refused (BackupDoesNotMatchApp) before anything changes. Piping the backup binds all of them from it.'
            'Errors (terminating): BackupDoesNotMatchApp, BackupHasNoRelease (a Release-layout restore of a backup without a ReleaseId); BackupMissing (InPlace: .next.backup is gone); RestoreFailed; BuildIncomplete (the rollback target is not complete); ReleaseSwitchFailed; Pm2ReloadFailed, Pm2ReloadUnhealthy; RestoreUnhealthy (the backup is live but health was not proven; the TargetObject is the RestoreResult); NothingToCheck, SessionNotOpen. A restore is of high impact: PowerShell asks for confirmation unless -Confirm:$false is given.'
        )
        Parameters  = $app + $health + $whatIf + @{
            Backup        = @{ Description = @('The backup to put back, from Backup-Build. Accepts pipeline input; its Session, AppPath, AppName and Layout bind by property name too, so piping the backup is enough.'); Default = 'None' }
            ReloadTimeout = @{ Description = @("How long the PM2 reload onto the backup may take: a TimeSpan, '00:10:00', or a number of seconds; must be longer than zero."); Default = '5 minutes' }
        }
        Inputs      = @(@{ Type = 'AedDeploy.BuildBackup'; Description = 'The backup from Backup-Build.' })
        Outputs     = @(@{ Type = 'AedDeploy.RestoreResult'; Description = 'ReleaseId, Commit, BuildId, Reload (the ReloadResult), Health (the HealthReport), Duration.' })
        Examples    = @(
            @{
                Title   = 'Roll back to the backup'
                Code    = @'
$backup | Restore-Build -Url http://127.0.0.1:3000/api/health
'@
                Remarks = @(
                    'Asks for confirmation, then:'
                    @'
Restored          Commit   BuildId               Instances  Health       Time
--------          ------   -------               ---------  ------       ----
20261120T101500Z  3f9c2a1d Qm3x9ZpL0aTtV1k2cD7eF 2/2 online healthy      4.7s
'@
                )
            }
            @{
                Title   = 'Roll back automatically in a deploy script'
                Code    = @'
$ErrorActionPreference = 'Stop'
$app = @{ Session = $session; AppPath = '/srv/apps/shop'; AppName = 'shop' }
$healthUrl = 'http://127.0.0.1:3000/api/health'
$backup = Backup-Build @app
try {
    Invoke-RemoteBuild @app -Ref $env:GITHUB_SHA |
        Test-BuildArtifact -Strict |
        Switch-Release -Confirm:$false |
        Invoke-Pm2Reload -Confirm:$false |
        Test-AppHealth -Url $healthUrl
}
catch {
    Write-Warning "Deploy failed ($($_.FullyQualifiedErrorId)); rolling back."
    $backup | Restore-Build -Url $healthUrl -Confirm:$false
    throw
}
'@
                Remarks = @('A failure in any phase (or an unhealthy app) puts the backup back with health proven, and the script still fails with the original error, so CI reports it.')
            }
        )
        Links       = @('about_AedDeploy', 'Backup-Build', 'Test-AppHealth', 'Invoke-Pm2Reload', 'Switch-Release')
    }
    # ------------------------------------------------------------------------------------------------
    @{
        Name        = 'Clear-NginxCache'
        Synopsis    = "Empties an nginx proxy cache and reloads nginx, only after nginx accepted its configuration."
        Description = @(
            'Open-source nginx has no cache purge, so Clear-NginxCache deletes the files under the proxy_cache_path folder (a missing cache file is a miss, so this is safe while nginx runs), then runs the configuration test (-NginxTestCommand) and, only when it passes, the reload (-NginxReloadCommand). The parameters are named as Invoke-ZeroDowntimeDeploy''s; their former names -TestCommand and -ReloadCommand still work as aliases. The exit code of the reload signal does not say whether nginx accepted the configuration; the test does.'
            'A folder too near the root (fewer than two levels, such as /var) is refused with CachePathTooBroad before anything is deleted: every file under it would go.'
            'A problem (the folder does not exist, nginx rejected its configuration, the reload failed) is a warning, and the result says it (Succeeded is False, Problem is set). With -Strict it is the terminating error NginxCacheClearFailed instead. Other errors: InvalidRemotePath, CachePathTooBroad, SessionNotOpen.'
        )
        Parameters  = $whatIf + @{
            Session       = @{ Description = @('The session of the server nginx runs on, from New-DeploySession. Binds by property name.'); Default = 'None' }
            CachePath     = @{ Description = @('The proxy_cache_path folder itself (an absolute path, at least two levels deep). The session''s user must be allowed to delete its files. Binds by property name.'); Default = 'None' }
            NginxTestCommand   = @{ Description = @('The bash command that tests the nginx configuration; nginx is reloaded only when it exits 0. Give your own for a non-default configuration or without sudo, such as ''nginx -t -c /etc/nginx/nginx.conf''. Alias: -TestCommand (its former name).'); Default = 'sudo -n nginx -t' }
            NginxReloadCommand = @{ Description = @('The bash command that reloads nginx, such as ''sudo -n systemctl reload nginx''. Alias: -ReloadCommand (its former name).'); Default = 'sudo -n nginx -s reload' }
            Strict        = @{ Description = @('Makes a problem the terminating error NginxCacheClearFailed instead of a warning.'); Default = 'False' }
        }
        Inputs      = @(@{ Type = 'System.Object'; Description = 'Session and CachePath bind by property name.' })
        Outputs     = @(@{ Type = 'AedDeploy.CacheClearResult'; Description = 'HostName, CachePath, FilesRemoved, ConfigurationValid (True or False as the configuration test said; null when the test did not run because the cache folder does not exist), Reloaded, Succeeded (both True), Problem, Duration.' })
        Notes       = @('sudo -n never prompts: give the deploy user a sudoers rule for exactly these two commands, or run them without sudo.')
        Examples    = @(
            @{
                Title   = 'Empty the cache after a deploy'
                Code    = 'Clear-NginxCache -Session $session -CachePath /var/cache/nginx/shop -Confirm:$false'
                Remarks = @(
                    @'
Host           CachePath                Removed ConfigOk Reloaded   Time
----           ---------                ------- -------- --------   ----
web1.example.… /var/cache/nginx/shop       1342 yes      yes        0.4s
'@
                    'When the cache folder does not exist, nothing is deleted and nginx is neither tested nor reloaded: ConfigOk shows ''not run'' (ConfigurationValid is null), and a warning names the missing folder.'
                )
            }
            @{
                Title   = 'Fail the deploy when nginx does not take its configuration'
                Code    = @'
Invoke-Pm2Reload -Session $session -AppPath /srv/apps/shop -AppName shop -Confirm:$false |
    Test-AppHealth -Url http://127.0.0.1:3000/api/health -ErrorAction Stop
Clear-NginxCache -Session $session -CachePath /var/cache/nginx/shop -NginxTestCommand 'nginx -t' -NginxReloadCommand 'nginx -s reload' -Strict -Confirm:$false
'@
                Remarks = @('The cache is cleared once the new version is proven healthy, so visitors never get a freshly cached old page. -Strict turns a rejected configuration into an error.')
            }
        )
        Links       = @('about_AedDeploy', 'Invoke-Pm2Reload', 'Test-AppHealth')
    }
    # ------------------------------------------------------------------------------------------------
    @{
        Name        = 'Initialize-DeployTarget'
        Synopsis    = 'Sets a server up for the Release layout once: the folders, the ready-signal preload, a first release, and PM2 running the app from current.'
        Description = @(
            'Initialize-DeployTarget prepares -AppPath on the server for the Release layout, so that Invoke-ZeroDowntimeDeploy and the phase cmdlets can deploy there without downtime. Run it once per server and app; running it again does no harm: what is there is kept.'
            'It creates releases/, shared/ and .aeddeploy/ under -AppPath, and writes the ready-signal preload that ships with the module to <AppPath>/.aeddeploy/ready-preload.cjs (written again on every run, so a newer module brings its newer preload). The preload tells PM2 when a worker truly answers; the app''s ecosystem file refers to it (see about_AedDeploy, THE READY SIGNAL).'
            'When the app has no release yet (no current link), a first release is built from -Repository at -Ref, as Invoke-RemoteBuild does (the files of shared/ linked in, dependencies installed, -BuildCommand run), checked as Test-BuildArtifact does, made live (current points at it) and recorded as the rollback target. Put the files every release shares, such as .env, into <AppPath>/shared/ first: the first release links them in, and its build may need them. When there is a release already, -Repository, -Ref and -BuildCommand are not used.'
            'Then PM2. When PM2 does not run the app, it is started from current (pm2 start <EcosystemFile> --only <AppName>, in current), and the cmdlet waits up to -StartTimeout until every instance is online. When PM2 runs the app from current already, it is left alone. When PM2 runs it from another folder (an InPlace checkout, or a release path stored resolved), it has to move: PM2 fixes an app''s working folder at its first start and a reload never changes it, so the app must be deleted from PM2 and started once from current. The cmdlet writes a warning that explains the move and asks for a second confirmation before it does it. Later deploys reload without downtime.'
            'In cluster mode (exec_mode cluster in PM2''s process list) the move refuses no request: the workers of one PM2 daemon share the listening port, so the app''s workers are first started from current beside the old ones, under the temporary name <AppName>-aedmigrate (from a small ecosystem file, <AppPath>/.aeddeploy/migrate.config.cjs, that loads the app''s own and renames the app in it). Once every temporary instance is online and settled (with wait_ready and the ready preload, online means it answered HTTP), the old app is deleted and started again from current under its own name; once that is settled too, the temporary app and its file are deleted. For that moment the server runs the app''s instances twice over: it needs the memory for it. An app that does not tell PM2 when it is ready is given its listen_timeout at each step, with a warning.'
            'In fork mode the workers cannot share the port, so the app is deleted and started once from current: a short outage, the seconds its workers take to start, which the warning says.'
            'A failure leaves PM2 consistent. When the temporary app does not come up within -StartTimeout (it crashes at boot, its cwd is not current, Ctrl+C), it is deleted and the old app was never touched: Pm2MigrationNotReady, and no request was refused. When the old app was deleted but does not start again from current, the temporary app keeps serving and is not deleted: Pm2MigrationIncomplete, whose message names both apps and the commands that finish the move; running Initialize-DeployTarget again finishes it too (it deletes a temporary app left behind once the app serves from current).'
            'The ecosystem file, in the repository and so in every release, must define the app under the name -AppName and set cwd to the symlink path <AppPath>/current, so that PM2 keeps that path and new workers follow each switch (Invoke-Pm2Reload checks it).'
            'An InPlace checkout is never converted in place: when -AppPath is a git checkout, the cmdlet stops with InitializeFailed and changes nothing. To move an InPlace app to the Release layout, initialize a new path with the same -AppName: PM2''s app is then moved from the checkout to the new current, as described above.'
            'Errors (terminating): InitializeDeployTargetRequiresReleaseLayout (-Layout InPlace), RepositoryRequired (no release yet and no -Repository), InvalidAppName, InvalidRemotePath, InvalidEcosystemFile (InvalidArgument); InitializeFailed (-AppPath is a git checkout, or the folders could not be made); the errors of the first build (InvalidGitRef, InvalidRepository, BuildRefNotFound, FetchFailed, SharedLinkFailed, DependencyInstallFailed, PrismaGenerateFailed, BuildFailed, RemoteCommandTimeout), BuildIncomplete, ReleaseSwitchFailed, RollbackTargetWriteFailed; Pm2StartFailed (pm2 start failed, or an instance was not online within -StartTimeout), Pm2CwdNotCurrent (PM2 started the app with another cwd than current), Pm2EcosystemUnusable (the live release''s ecosystem file cannot be loaded or lacks -AppName; PM2 untouched), Pm2MigrationNotReady (the workers started from current did not come up; the old app untouched), Pm2MigrationIncomplete (the old app was deleted but the move did not finish: <AppName>-aedmigrate serves), Pm2ListFailed, Pm2AppNotFound; SessionNotOpen.'
            'With -StaticPool it also sets up the app''s static pool for fleet deploys (several servers behind a load balancer, see Invoke-ZeroDowntimeDeploy): the folder <AppPath>/static/_next/static/, filled with hard links to the live release''s .next/static files (never replacing a file there; a file the pool holds with other content is left and counted in a warning), and the nginx snippet <AppPath>/.aeddeploy/nginx-static.conf. The snippet serves /_next/static/ from the pool (root <AppPath>/static, immutable caching) and passes a file the pool does not hold to -StaticPoolUpstream, the app itself. Your nginx configuration is never edited: the cmdlet writes the exact include line to add inside the app''s server block to the Information stream (tag AedDeploy.StaticPool), include <AppPath>/.aeddeploy/nginx-static.conf;, and with -NginxTestCommand runs that test once the snippet is written. Reload nginx yourself once the line is in. A fleet deploy keeps every host''s pool filled with each new release before any host switches, so a page of either version finds its chunks on every host.'
            'Errors of -StaticPool (terminating): StaticPoolUpstreamRequired (-StaticPool without -StaticPoolUpstream), StaticPoolParameterNeedsStaticPool (-StaticPoolUpstream or -NginxTestCommand without -StaticPool), StaticPoolUpstreamInvalid (not http(s), or with a path, query or user), StaticPoolPathUnsupported (-AppPath holds characters an nginx directive cannot take unquoted), InvalidReleaseId, StaticPoolFillFailed (the pool could not be made or filled: it must be on the file system of releases/), RemoteAnswerInvalid, StaticPoolSnippetWriteFailed, StaticPoolNginxRejected (-NginxTestCommand failed with the snippet written: it is included in the wrong place, such as at the http level, or twice).'
            'The change is of high impact: PowerShell asks for confirmation (a second time before PM2 is moved, and for the static pool) unless -Confirm:$false is given. With -WhatIf nothing is changed.'
        )
        Parameters  = $app + $whatIf + @{
            StaticPool         = @{ Description = @('Also sets up the static pool <AppPath>/static/_next/static/ (filled from the live release) and writes the nginx snippet <AppPath>/.aeddeploy/nginx-static.conf that serves it; needs -StaticPoolUpstream. The include line to add to nginx is written to the Information stream.'); Default = 'False' }
            StaticPoolUpstream = @{ Description = @('With -StaticPool: the address nginx passes a request for a file the pool does not hold to, the app itself as nginx reaches it, such as http://127.0.0.1:3000 (scheme, host and port only: nginx takes no path in the named location''s proxy_pass). Required with -StaticPool.'); Default = 'None' }
            NginxTestCommand   = @{ Description = @('With -StaticPool: the command that tests nginx''s configuration on the server, run once the snippet is written; a failure stops the cmdlet with StaticPoolNginxRejected. Run it after adding the include line, or it only proves the configuration without the pool. Without it, nginx is not tested.'); Default = 'None' }
            Repository   = @{ Description = @('The git repository of the app, for the first release, as git accepts it (an SSH or HTTPS address, or a path on the server); the server''s own git credentials are used. Needed only when -AppPath has no release yet (RepositoryRequired without it).'); Default = 'None' }
            Ref          = @{ Description = @('The branch, tag or commit the first release is built from; validated as a git ref (InvalidGitRef).'); Default = 'main' }
            BuildCommand = @{ Description = @('The command that builds the first release, run with bash in it after the install.'); Default = 'npm run build' }
            StartTimeout = @{ Description = @("How long each pm2 start may take, and then how long every instance may take to be online and settled (Pm2StartFailed; during a move, Pm2MigrationNotReady or Pm2MigrationIncomplete): a TimeSpan, '00:05:00', or a number of seconds; must be longer than zero."); Default = '2 minutes' }
        }
        Inputs      = @(@{ Type = 'System.Object'; Description = 'Session, AppPath, AppName, Layout, Pm2Path and EcosystemFile bind by property name.' })
        Outputs     = @(@{ Type = 'AedDeploy.ReleaseInfo'; Description = 'The live release once the target is set up, as Get-Release describes it (a first release built by the cmdlet is also the rollback target).' })
        Notes       = @('The first build runs as the SSH user in a non-interactive shell: node, npm and git must be on that PATH, and pm2 too unless -Pm2Path says where it is.')
        Examples    = @(
            @{
                Title   = 'Set a new server up and build the first release'
                Code    = @'
$session = New-DeploySession -HostName web1.example.com -UserName deploy -KeyFilePath ~/.ssh/deploy_ed25519
Invoke-DeployCommand -Session $session -Command 'mkdir -p /srv/apps/shop/shared && cp ~/shop.env /srv/apps/shop/shared/.env' -ErrorOnNonZeroExit
Initialize-DeployTarget -Session $session -AppPath /srv/apps/shop -AppName shop -Repository git@github.com:example/shop.git -Ref main
'@
                Remarks = @(
                    'The .env goes into shared/ first, so the first release gets it. After the confirmation, the release is built, made live, and PM2 starts the app from current:'
                    @'
Id                Role           Status   Ref        Commit   BuildId
--                ----           ------   ---        ------   -------
20261126T070102Z  live, rollback Built    main       a1b2c3d4 x8Yz1AbC2dEf3Gh…
'@
                )
            }
            @{
                Title   = 'Move an app that PM2 runs from an InPlace checkout'
                Code    = @'
$app = @{ Session = $session; AppPath = '/srv/apps/shop'; AppName = 'shop' }
Initialize-DeployTarget @app -Repository git@github.com:example/shop.git -WhatIf
Initialize-DeployTarget @app -Repository git@github.com:example/shop.git
'@
                Remarks = @(
                    '-WhatIf shows what would be done and changes nothing. The second command builds the first release at the new path, then warns before the one-time move:'
                    @'
WARNING: PM2 runs shop from /var/www/shop. PM2 fixes an app's working folder at its
first start, so to follow /srv/apps/shop/current it is moved once: its workers are
started from current beside the old ones (as shop-aedmigrate, on the same port), then
the old ones are deleted and shop started again from current before the temporary ones
go. No request is refused; for a moment the app runs twice its instances.
'@
                    'In cluster mode the move refuses no request; the server needs the memory for twice the instances for a few seconds. Answering No leaves PM2 running the old checkout, and the command can be run again later.'
                )
            }
            @{
                Title   = 'Set up and deploy from a script, never moving PM2 by surprise'
                Code    = @'
$app = @{ Session = $session; AppPath = '/srv/apps/shop'; AppName = 'shop' }
Initialize-DeployTarget @app -Repository https://github.com/example/shop.git -Confirm:$false -WarningAction Stop
Invoke-ZeroDowntimeDeploy -Ref main @app -HealthUrl http://127.0.0.1:3000/api/health
'@
                Remarks = @('-Confirm:$false answers both confirmations; -WarningAction Stop turns the warning about moving PM2 into a stop, so the script never moves PM2 unattended (in fork mode, an outage). On a server that is set up already, Initialize-DeployTarget leaves the releases and PM2 as they are (only the preload is written again) and returns the live release.')
            }
            @{
                Title   = 'Set up the static pool of a fleet host and check nginx with it'
                Code    = @'
$app = @{ Session = $session; AppPath = '/srv/apps/shop'; AppName = 'shop' }
Initialize-DeployTarget @app -StaticPool -StaticPoolUpstream http://127.0.0.1:3000 -InformationAction Continue
# add the line it printed inside shop's server block, then:
Initialize-DeployTarget @app -StaticPool -StaticPoolUpstream http://127.0.0.1:3000 -NginxTestCommand 'sudo -n nginx -t'
Invoke-DeployCommand -Session $session -Command 'sudo -n nginx -s reload' -ErrorOnNonZeroExit
'@
                Remarks = @(
                    'The first run fills /srv/apps/shop/static/_next/static/ from the live release, writes /srv/apps/shop/.aeddeploy/nginx-static.conf and says what to add:'
                    @'
The static pool is set up. Add this line inside the nginx server block of shop, then test and
reload nginx: include /srv/apps/shop/.aeddeploy/nginx-static.conf;
'@
                    'The second run, with the line in place, finds the pool filled already and proves that nginx accepts the configuration with the snippet included; nginx is then reloaded to serve the pool.'
                )
            }
        )
        Links       = @('about_AedDeploy', 'Invoke-ZeroDowntimeDeploy', 'Invoke-RemoteBuild', 'Get-Release', 'Invoke-Pm2Reload')
    }
    # ------------------------------------------------------------------------------------------------
    @{
        Name        = 'Invoke-ZeroDowntimeDeploy'
        Synopsis    = 'Deploys a ref in one command: lock, backup, build, validate, boot test, switch, reload, health, cache purge, with automatic rollback and a history entry.'
        Description = @(
            'Invoke-ZeroDowntimeDeploy is the composed deploy. It runs the phases in order, each one checked, and writes a DeploymentRecord with the outcome and every phase''s duration and detail:'
            '- Preflight (read-only): the connection, the layout at -AppPath, at least 512 MB free disk, every PM2 instance of the app online, PM2 running the app from the folder this deploy builds (Release: PM2''s cwd is <AppPath>/current; InPlace: it resolves to the checkout; otherwise the deploy stops with Pm2AppElsewhere, naming the folder PM2 runs and the -AppPath or Initialize-DeployTarget to use), the live build complete, the target consistent (Consistency: every worker''s /proc/<pid>/cwd resolves to the live folder, and the live release is the last one recorded Verified, which is the rollback target, never merely what current points at), and who holds the deploy lock. Any other failed check but the lock stops the deploy with PreflightFailed before anything changes. A server that is not set up for the Release layout yet fails the Layout check: set it up once with Initialize-DeployTarget.'
            '- A target that is not consistent (a deploy killed after its switch, a release switched by hand) stops the deploy with TargetDrifted, which names what is wrong and the Repair-DeployTarget command that fixes it. While the lock is held the target is mid-deploy, so the consistency and PM2 checks are not conclusive then: a live holder is waited for (and the target checked once the lock is taken), an abandoned one is taken over and repaired.'
            '- Lock: a lease under .aeddeploy/ (an atomic mkdir recording who deploys, when and what), renewed every few seconds while the deploy runs, also during a rollback. A lock that is still renewed is waited for up to -LockWaitTimeout (by default not at all: DeployLocked) and never taken. A lock not renewed for its -LockLease (60 s by default) belongs to a deploy that is gone (killed, its machine lost): the deploy takes it over atomically, and a Repair phase runs first, as Repair-DeployTarget does: the last verified release live and healthy, the releases the abandoned deploy left Building or Built marked Failed, and a TakeOver history entry naming that deploy.'
            '- Backup (as Backup-Build), Build (as Invoke-RemoteBuild), Validate (as Test-BuildArtifact).'
            '- CarryStatic (Release layout, unless -StaticRetentionReleases 0): the static files (.next/static) of the earlier releases in the retention window (-StaticRetentionReleases, -StaticRetentionDays) are hard-linked into the new release, never replacing one of its own, so that browser tabs opened on an earlier version still load their hashed chunks from the new workers (next start serves only the files that are there when it starts, so this comes before the boot test). A rollback carries the failed release''s files into the release it restores, before that one''s workers start (see about_AedDeploy, SKEW PROTECTION).'
            '- DeploymentId (Release layout, with -DeploymentId): NEXT_DEPLOYMENT_ID is written into the new release''s .env.production.local, which its next start loads; the build got it in its environment already.'
            '- BootTest (Release layout, unless -SkipBootTest): the new release is started on a spare loopback port with the app''s environment and probed (the path of the first -HealthUrl, or /) before the live workers are touched, so a release that crashes at boot or answers errors never reaches them (BootTestFailed).'
            '- Switch (Release layout), Reload (as Invoke-Pm2Reload, within -ReloadTimeout), Health (as Test-AppHealth, with -HealthUrl, -ExpectedStatus, -ContentPattern, -ProbeSource, -RequiredSuccesses, -TimeoutSec, -MaximumRetryCount, -RetryIntervalSec and -StabilizationSec; and the new build id: every answer that shows a build id, in the X-Build-Id header AedDeploy''s ready preload adds or in its body, must show the new one, else AppUnhealthy; -VerifyBuildId also fails answers that show none, -SkipBuildIdCheck leaves the check out; an app that shows no build id is warned about and its health is proven by status only. The record''s HealthProof and the phase''s detail say which proof it was), CachePurge (with -CachePath, as Clear-NginxCache; a failure is a warning unless -StrictCachePurge).'
            '- Finalize (Release layout): the release is marked Verified and becomes the rollback target; older releases are pruned down to -KeepReleases, never the live one or the rollback target.'
            'The phases are a declared list per layout (Release: Preflight, Lock, Repair (only after a takeover), Backup, Build, Validate, CarryStatic (with -StaticRetentionReleases above 0), DeploymentId (with -DeploymentId), BootTest, Switch, Reload, Health, CachePurge, Finalize; InPlace: Preflight, Lock, Repair, Backup, Fetch, Build, Validate, Reload, Health, CachePurge), run by one phase runner. Any exception in a phase, not only AedDeploy''s own, is that phase''s failure: one AedDeploy does not know is recorded as UnexpectedFailure with its type and message (the stack trace goes to the Verbose stream), and handled like any other.'
            'When a phase fails after the live state changed (from the start of the Switch on in the Release layout; from the start of the Build on in the InPlace layout, whose Build resets the checkout and rewrites the live .next, while its Fetch phase only resolves the ref, so a ref that does not exist changes nothing), the backup is restored as Restore-Build does and proven healthy with the same URLs, status and probe settings (not -ContentPattern, which describes the new version), and, unless -SkipBuildIdCheck, by the old build''s id as the new one was checked, and with -CachePath the nginx cache files are deleted again (it may hold what the failed version served; nginx is not reloaded for that, a missing file being a miss); the outcome is RolledBack. A reload that Ctrl+C or a dropped connection cut short is let finish the worker PM2 was replacing, and the rollback then forces its own reload past PM2''s reload lock. A failure before that leaves the live app untouched; the outcome is Failed, and a new release that failed is kept and marked Failed. The lock is always released and the record appended to .aeddeploy/history.jsonl, also on Ctrl+C and after a dropped connection (the session is opened again to recover, with the host key verified again).'
            'The record is always written to the pipeline. A deploy that did not succeed is then also a terminating error: DeploymentRolledBack (the previous version is serving) or DeploymentFailed; the error''s TargetObject is the record, whose ErrorId and FailedPhase name the failure (PreflightFailed, Pm2AppElsewhere, DeployLocked, BuildFailed, BootTestFailed, Pm2ReloadUnhealthy, AppUnhealthy, UnexpectedFailure, ...). When the app itself is at fault (boot test, reload, health, install or build), the message ends with the app''s own last output (the boot test''s output, what the new workers wrote to their PM2 logs since the reload, the build''s tail; at most 50 lines and 4000 characters), which the record keeps as AppOutput.'
            'Settings come from parameters, or from a deploy description checked in with the app (-ConfigurationPath deploy.psd1 -Environment production): a PowerShell data file, read without running anything, @{ Environments = @{ <name> = @{ <setting> = <value> } } }. The settings are the parameters of the same names: HostName, Port, UserName, KeyFilePath, KnownHostsPath, HostKeyFingerprint, AppPath, AppName, Layout, Ref, Repository, BuildCommand, Pm2Path, EcosystemFile, HealthUrl, ExpectedStatus, ContentPattern, ProbeSource, VerifyBuildId, SkipBuildIdCheck, MaximumRetryCount, RetryIntervalSec, RequiredSuccesses, TimeoutSec, StabilizationSec, CachePath, NginxTestCommand, NginxReloadCommand, StrictCachePurge, KeepReleases, LockWaitTimeout, LockLease, BuildTimeout, BuildNiceness, SkipBuildCache, ReloadTimeout, BootTestTimeout, SkipBootTest, StaticRetentionReleases, StaticRetentionDays, and for fleets BatchSize, BatchWait, ThrottleLimit, LoadBalancerUrl and SkipStaticPool; HostName may list several hosts, which share the connection settings. KeyFilePath and KnownHostsPath are relative to the file and may start with ~. A parameter given on the command line wins over the file, except -HostName, which cannot be combined with -ConfigurationPath (give -Session to deploy an environment''s settings to another server). An unknown setting is an error (ConfigurationKeyUnknown), so a typo never falls back to a default. Secrets (passphrases, passwords) and -AcceptNewHostKey are never read from the file.'
            'A value from the file is converted to the parameter''s type as PowerShell converts it, without the checks the parameter itself makes (ranges, positive times): write switches as $true or $false, several URLs as @(''...'', ''...''), and times as ''hh:mm:ss'' strings, such as BuildTimeout = ''00:30:00''. A bare number is not read as seconds there. The docs/examples/deploy.psd1 of the AedDeploy repository is a commented example.'
            'Errors before the deploy starts (terminating): DeploySettingMissing, ConfigurationNotFound, ConfigurationInvalid, ConfigurationEnvironmentNotFound, ConfigurationKeyUnknown, InvalidAppName, InvalidRemotePath, InvalidGitRef, InvalidEcosystemFile, and the connection errors of New-DeploySession.'
            'With -WhatIf, only the preflight runs and its PreflightReport is returned: nothing is locked, built or changed. The preflight reads the server, so without -Session the cmdlet still connects to it. A fleet deploy with -WhatIf returns one PreflightReport per host, in lock order; each also checks that host''s static pool (Static pool, FleetStaticPoolMissing) unless -SkipStaticPool is given.'
            'FLEETS. With several sessions (or host names, or pipeline objects) the hosts behind a load balancer are deployed as one fleet, Release layout only (an InPlace host is refused with FleetNeedsReleaseLayout). Next.js needs the same build on every host (the build id, the hashed chunks, the Server Actions key), so the release is built once, on -BuildOn, and its outputs (the untracked files the build made, without node_modules and .next/cache) are shipped as one gzip archive through this machine over the sessions already open; each other host clones the same commit, installs its dependencies from the lockfile (seeded from its own live release) while the build runs, then receives the archive and checks it (the archive''s sha256 and a sha256 manifest of every file: FleetReceiveFailed). Every host then validates, proves its identity (Identity: the build id, hashes of .next/static and of the server manifests, and a hash of the Server Actions key the app will use, never the key), carries the static files of earlier releases, links the new release''s static files into its static pool (PoolStatic; see Initialize-DeployTarget -StaticPool) and boot-tests the release. Only when every host has passed and every identity is equal (the Barrier; FleetBuildMismatch otherwise) does any host switch.'
            'The hosts then switch in batches (-BatchSize, -BatchWait): Switch, Reload, Health and CachePurge on each host of the batch at once, then the load-balancer gate (-LoadBalancerUrl). Finalize (verified, rollback target, pruning) runs on every host only after the last batch. If anything fails on any host at any point (unhealthy, a dropped connection, Ctrl+C, an exception nobody foresaw), the other hosts stop where they are and every host that had switched is rolled back, all at the same time, so that the fleet ends on one version: the outcome is RolledBack, naming FailedHost and FailedPhase. A host whose rollback fails is reported loudly, by name, and the others still complete (the outcome is then Failed). Locks are taken one host after another in lock order, renewed on every host and always released; every host gets its history entry. A fleet deploy that does not succeed is a terminating error, FleetDeploymentRolledBack or FleetDeploymentFailed, whose TargetObject is the FleetDeploymentRecord. Verbose lines and progress are per host, named by the host.'
        )
        Parameters  = $whatIf + @{
            Session            = @{ Description = @('An open session from New-DeploySession, or several for a fleet deploy (one per host behind the load balancer). Without it (and with -HostName or a configuration), the cmdlet opens its own sessions and closes them at the end. Takes sessions from the pipeline, and binds by property name: each pipeline object is one host with its own AppPath, AppName, HealthUrl, CachePath, NginxTestCommand and NginxReloadCommand where it has them; all of them deploy together when the pipeline ends.'); Default = 'None' }
            HostName           = @{ Description = @('The server to deploy to, when the cmdlet opens its own session (as New-DeploySession -HostName); several names deploy a fleet whose hosts share the connection settings (a deploy.psd1 may list them: HostName = ''web1'', ''web2'').'); Default = 'None' }
            BuildOn            = @{ Description = @('Fleet: where the release is built. One of the -Session sessions: that host builds in its own releases/ and the others receive the build. Or a session of another machine, such as a local one on the CI runner (New-DeploySession -Local), with -BuildPath: every host then receives the build. That machine needs git, npm and the servers'' Node.js major version, and the repository (-Repository the first time). By default the first host in lock order (sorted by host name, port and app path).'); Default = 'The first host in lock order' }
            BuildPath          = @{ Description = @('Fleet, with -BuildOn a session that is not deployed: the folder it builds in, an absolute path there. It keeps a Release layout of its own: releases/<id> for each build and current pointing at the last one shipped, whose node_modules and .next/cache the next build starts from; older builds are removed (two are kept). Nothing there is served. The build path has a lease lock of its own, held from before the build until current has moved, so deploys that run at the same time need a -BuildPath each: it is taken before any host''s deploy lock, and a deploy that finds it held waits -LockWaitTimeout, then fails with BuildPathLocked before any host is locked or changed.'); Default = 'None' }
            BatchSize          = @{ Description = @('Fleet: how many hosts switch at once: a number of hosts (1, 2, ...) or a percentage of the fleet (25%), rounded down and at least one host. Hosts switch in lock order; each batch is proven healthy on each host and, with -LoadBalancerUrl, through the load balancer before the next one starts.'); Default = '1' }
            BatchWait          = @{ Description = @('Fleet: how long to wait after a batch proved healthy before the next one switches: a TimeSpan or a number of seconds (0 for none). Not after the last batch.'); Default = '0 (no wait)' }
            ThrottleLimit      = @{ Description = @('Fleet: how many hosts work at the same time (1 to 64) in the preflight, the preparation (the receivers clone and install while the build host builds), the receiving of the build and the checks. Locks are always taken one host after another, in lock order; a batch switches all its hosts at once, and a rollback is never throttled.'); Default = '4' }
            LoadBalancerUrl    = @{ Description = @('Fleet: URLs probed from this machine through the load balancer after each batch, with -ExpectedStatus, -RequiredSuccesses, -TimeoutSec, -MaximumRetryCount and -RetryIntervalSec. By status only: during the rollout hosts of both versions answer. A failure (LoadBalancerUnhealthy) rolls back every switched host.'); Default = 'None' }
            SkipStaticPool     = @{ Description = @('Fleet: fills and prunes no static pool. Without the pool, a page served by a switched host asks the load balancer for its new chunks, and a host that has not switched yet answers 404 (next start serves only the files it started with). For fleets that serve /_next/static from elsewhere, such as a CDN in front of one host. See Initialize-DeployTarget -StaticPool.'); Default = 'False' }
            ConfigurationPath  = @{ Description = @('A deploy description (deploy.psd1) with one entry per environment under Environments. Values given as parameters win over the file''s (-HostName cannot be given with it; -Session can).'); Default = 'None' }
            Environment        = @{ Description = @('The environment of -ConfigurationPath to deploy, such as production. Tab completion offers the file''s environments.'); Default = 'None' }
            Port               = @{ Description = @('The SSH port, when the cmdlet opens its own session.'); Default = '22' }
            UserName           = @{ Description = @('The SSH user, when the cmdlet opens its own session.'); Default = 'The -Credential user name, else the current local user name' }
            KeyFilePath        = @{ Description = @('A private key file (OpenSSH or PEM format), when the cmdlet opens its own session.'); Default = 'None' }
            KeyPassphrase      = @{ Description = @('The passphrase of an encrypted key file, as a SecureString. Never read from the configuration file.'); Default = 'None' }
            Credential         = @{ Description = @('A user name and password for password authentication. Never read from the configuration file.'); Default = 'None' }
            KnownHostsPath     = @{ Description = @('The OpenSSH known_hosts file the host key is checked against.'); Default = '~/.ssh/known_hosts' }
            HostKeyFingerprint = @{ Description = @('Pins the server''s host key by its SHA256 fingerprint (as New-DeploySession -HostKeyFingerprint); the way to verify the server from a CI runner that has no known_hosts.'); Default = 'None' }
            AcceptNewHostKey   = @{ Description = @('Trust on first use: records the key of a host that known_hosts has no entry for. A reconnection during the deploy never trusts a new key.'); Default = 'False' }
            AppPath            = @{ Description = @("The app's root on the server, an absolute path: the folder with releases/ and current (Release), or the checkout (InPlace). Binds by property name."); Default = 'None' }
            AppName            = @{ Description = @("The app's name in PM2 (1 to 64 letters, digits, '.', '-' or '_'). Binds by property name. Tab completion offers the apps PM2 runs on the server of the -Session typed before it."); Default = 'None' }
            Layout             = @{ Description = @('Release (the default, zero-downtime) or InPlace (one checkout; its build rewrites the live .next, so it is never zero-downtime). See about_AedDeploy.'); Default = 'Release' }
            Ref                = @{ Description = @('The branch (of origin), tag or commit to deploy; validated as a git ref before anything runs (InvalidGitRef). In CI, the full commit id names exactly what was tested.'); Default = 'None' }
            Repository         = @{ Description = @('The git repository to clone the new release from (Release layout; an InPlace deploy fetches the checkout''s own origin and does not use it).'); Default = "The live release's origin" }
            BuildCommand       = @{ Description = @('The command that builds the app, run with bash in the new release after the install.'); Default = 'npm run build' }
            BuildTimeout       = @{ Description = @("How long the build may run before it is stopped and the deploy fails: a TimeSpan, '00:30:00', or a number of seconds; must be longer than zero."); Default = '20 minutes' }
            BuildNiceness      = @{ Description = @('The CPU niceness (0 to 19) the dependency install and the build run at on the server, with the lowest best-effort I/O priority (renice and ionice; where either is missing the step runs at normal priority). On a small server the build competes with the live workers for the cores: measured on 2 cores, live p99 latency was 2.4 to 2.8 times its idle value during an unniced build. 0 runs them at normal priority.'); Default = '10' }
            Pm2Path            = @{ Description = @('How PM2 is called on the server, when pm2 is not on the PATH of non-interactive SSH sessions.'); Default = 'pm2' }
            EcosystemFile      = @{ Description = @("The PM2 ecosystem file's name in the app's live folder."); Default = 'ecosystem.config.cjs' }
            HealthUrl          = @{ Description = @('The URLs that prove the new version healthy (and, after a rollback, the old one). The first one''s path is also what the boot test probes. Without a URL, health is proven from PM2 alone.'); Default = 'None' }
            ExpectedStatus     = @{ Description = @('The HTTP status the health URLs (and the boot test) must answer.'); Default = '200' }
            ContentPattern     = @{ Description = @('A regular expression the new version''s answers must match, such as its version. The rollback''s health check does not use it: the old version answers differently.'); Default = 'None' }
            ProbeSource        = @{ Description = @('Where the health probes are sent from: Server (through the session, with curl, reaching apps that listen on loopback only) or Client (this machine, as a visitor would). The alias -Source is the name Test-AppHealth and Restore-Build use.'); Default = 'Server' }
            VerifyBuildId      = @{ Description = @('Makes the build id check strict: every health answer must show the new build id (the BUILD_ID the Build phase produced) in an X-Build-Id response header or in its body, as Test-AppHealth -ExpectedBuildId checks it, and an answer that shows no build id fails the Health phase too (AppUnhealthy, rolled back). Without it the check still runs by default, but an app that shows no build id passes on its status with a warning. Kept for scripts written when the check was off by default; it cannot be combined with -SkipBuildIdCheck (BuildIdCheckConflict). The rollback''s check asks for the old build id just as strictly.'); Default = 'False (the build id is still checked wherever the answers show one)' }
            SkipBuildIdCheck   = @{ Description = @('Leaves out the build id check in the Health phase and in the rollback''s health check: health is then proven by the status, -ContentPattern and PM2 only, and the record''s HealthProof is Status. For an app whose X-Build-Id header carries something other than the Next.js build id. By default every answer that shows a build id must show the new one.'); Default = 'False' }
            RequiredSuccesses  = @{ Description = @('How many answers in a row each health URL must pass (1 to 100); successive probes are 250 ms apart. The rollback''s check uses it too.'); Default = '3' }
            TimeoutSec         = @{ Description = @('The seconds one health probe may take before it counts as failed with ''no answer within N s'' (0.1 to 600).'); Default = '5' }
            MaximumRetryCount  = @{ Description = @('How many times a failed health probe is tried again (0 to 100). A failure restarts the count of successes in a row.'); Default = '5' }
            RetryIntervalSec   = @{ Description = @('The seconds to wait before each retry of a failed health probe (0 to 3600; fractions allowed).'); Default = '3' }
            StabilizationSec   = @{ Description = @('The seconds during which PM2 must show no restart of any instance after the reload (0 to 3600).'); Default = '3' }
            ReloadTimeout      = @{ Description = @("How long pm2 reload may take for all instances, in the Reload phase and in a rollback, before it is stopped (RemoteCommandTimeout): a TimeSpan, '00:10:00', or a number of seconds; must be longer than zero."); Default = '5 minutes' }
            CachePath          = @{ Description = @('The nginx proxy_cache_path folder to empty once the new version is healthy. Without it there is no cache purge.'); Default = 'None' }
            NginxTestCommand   = @{ Description = @('The command that tests the nginx configuration before the reload.'); Default = 'sudo -n nginx -t' }
            NginxReloadCommand = @{ Description = @('The command that reloads nginx.'); Default = 'sudo -n nginx -s reload' }
            StrictCachePurge   = @{ Description = @('Makes a failed cache purge fail the deploy, which is then rolled back, instead of a warning.'); Default = 'False' }
            LockLease          = @{ Description = @("How long the deploy lock lives without a renewal: a TimeSpan, '00:01:00', or a number of seconds; must be longer than zero. The deploy renews it five times per lease (at most every 15 s); a deploy that dies stops renewing, and the next one takes the lock over once this long has passed since the last renewal. Written into the lock, so that others judge it by the holder's own lease."); Default = '60 seconds' }
            LockWaitTimeout    = @{ Description = @('How long to wait for another deploy''s lock (its release, or the end of its lease): a TimeSpan or a number of seconds. Zero, the default, does not wait: a locked target fails at once with DeployLocked. A negative time is refused while the parameters are bound.'); Default = '0 (no wait)' }
            KeepReleases       = @{ Description = @('How many releases to keep after a successful deploy (2 to 100), the oldest pruned first; the live release and the rollback target are always kept. Old releases keep serving their hashed static chunks to clients of the old version.'); Default = '5' }
            BootTestTimeout    = @{ Description = @('How long the boot test may take to get an answer from the new release: a TimeSpan or a number of seconds; must be longer than zero.'); Default = '60 seconds' }
            SkipBuildCache     = @{ Description = @('Starts the build without a copy of the live release''s .next/cache (Release layout): a clean build, as when a corrupt cache is suspected. By default the build gets a copy (a reflink where the file system offers one) and starts warm; see Invoke-RemoteBuild.'); Default = 'False' }
            SkipBootTest       = @{ Description = @('Leaves out the boot test on a spare port (Release layout), for an app that cannot start twice on one machine.'); Default = 'False' }
            StaticRetentionReleases = @{ Description = @('Skew protection (Release layout): how many earlier releases'' static files a new release carries as hard links, the live release first, then the verified releases before it, newest first (0 to 100; 0 turns it off). 3 covers a tab opened before a hotfix that quickly followed a bad deploy, and stays below -KeepReleases (5), so every release in the window is still on disk when the next deploy carries it; a release pruned from releases/ leaves the window.'); Default = '3' }
            StaticRetentionDays = @{ Description = @('Skew protection (Release layout): an earlier release''s static files are carried while it stopped serving (the release after it went live) less than this many days ago (0 to 3650; fractions allowed). 7 days outlasts a tab left open over a weekend and the week''s browser sessions that restore it; the files are hard links, so keeping them costs next to no disk.'); Default = '7' }
            DeploymentId       = @{ Description = @('Next.js''s deploymentId for the new release (Release layout; letters, digits, ''-'' and ''_'', 1 to 64): NEXT_DEPLOYMENT_ID is set for the build command and written into the release''s .env.production.local, which its next start loads. Next then adds ?dpl=<id> to asset URLs, sends the id on client-side navigations, and a tab whose id no longer matches the server''s reloads the page instead of navigating on the client; since Next 16.2 the build id is a constant then (so -VerifyBuildId cannot tell two builds apart). Give each deploy a new one, such as the commit or the release id, together with the static retention (about_AedDeploy, SKEW PROTECTION). Command line only, never from a deploy.psd1: a file would give every deploy the same id.'); Default = 'None' }
            FaultInjection     = @{ Description = @('For failure rehearsals on your own staging server: injects one fault into one phase, @{ Phase = ''Reload''; Kind = ''ConnectionDrop''; DelaySec = 2 }; in a fleet deploy on one host, named by Host = ''<host name>'' (required there). Phase is one of the phases this deploy runs (the record''s phase names; an unknown or skipped phase is refused with FaultInjectionInvalid). Kind is Exception (an exception AedDeploy does not know, recorded as UnexpectedFailure), ConnectionDrop (the sshd process serving the session is killed on the server, as a network failure would cut it; SSH sessions only), Latency (the phase starts DelaySec late, 5 s by default) or Cancel (as Ctrl+C, recorded as DeployCancelled). DelaySec is how far into the phase the fault strikes; when the phase ends before that, the fault strikes as it ends, so a rehearsal never passes because its phase was quick. It is applied by the phase runner with Polly''s chaos strategies, written to the record and the history (FaultInjection), shown by -WhatIf, and never read from a configuration file, so it is never on unless asked for.'); Default = 'None' }
        }
        Inputs      = @(@{ Type = 'AedDeploy.DeploySession'; Description = 'Sessions bind from the pipeline; Session, AppPath, AppName, Layout, Pm2Path, EcosystemFile, HealthUrl, CachePath, NginxTestCommand and NginxReloadCommand bind by property name, one host per object.' })
        Outputs     = @(
            @{ Type = 'AedDeploy.FleetDeploymentRecord'; Description = 'With more than one host: Id (the fleet id, also each host record''s FleetId), Outcome, Ref, Commit, BuildId, Fingerprint (the build identity every host proved), Reason, ErrorId, FailedHost, FailedPhase, BuildHost, ShipBytes, ShipDuration, Batches (the host names of each batch), Phases (the fleet''s own: BuildPathLock and Build with -BuildPath, Ship, Barrier, Batch N, LoadBalancer N, Wait N) and Hosts (each host''s DeploymentRecord, also written to its history).' }
            @{ Type = 'AedDeploy.DeploymentRecord'; Description = 'Id, Outcome (Succeeded, RolledBack, Failed), Ref, From/To commit, build id and release, HealthProof (how the new build was proven: BuildIdHeader, BuildIdBody or Status), Reason, ErrorId, FailedPhase, AppOutput (the app''s own last output when it was at fault), FaultInjection (the fault a rehearsal injected), User, StartedAt, Duration, and Phases (Name, Outcome, Duration, Detail).' }
            @{ Type = 'AedDeploy.PreflightReport'; Description = 'With -WhatIf: the preflight checks, the live release and build, and who holds the lock.' }
        )
        Notes       = @('The cmdlet asks for confirmation only when $ConfirmPreference is Medium or lower, or with -Confirm.')
        Examples    = @(
            @{
                Title   = 'Deploy a branch over an open session'
                Code    = @'
Invoke-ZeroDowntimeDeploy main -Session $session -AppPath /srv/apps/shop -AppName shop -HealthUrl http://127.0.0.1:3000/api/health -CachePath /var/cache/nginx/shop
'@
                Remarks = @(
                    'Progress shows each phase; the record:'
                    @'
Started     Kind     Outcome    Ref         Release          Failed       Time
-------     ----     -------    ---         -------          ------       ----
11-26 07:01 Deploy   Succeeded  main        20261126T070102Z             24.6s
'@
                )
            }
            @{
                Title   = 'See what a deploy would start from, changing nothing'
                Code    = @'
$preflight = Invoke-ZeroDowntimeDeploy main -Session $session -AppPath /srv/apps/shop -AppName shop -WhatIf
$preflight.Checks
'@
                Remarks = @('Runs only the read-only preflight: layout, free disk, PM2, the rollback target and the lock.')
            }
            @{
                Title   = 'Deploy from CI with a checked-in deploy description'
                Code    = @'
# deploy.psd1, beside the app:
# @{
#     Environments = @{
#         production = @{
#             HostName           = 'web1.example.com'
#             UserName           = 'deploy'
#             HostKeyFingerprint = 'SHA256:p2QAMXNIC1TJYWeIOttrVc98/R1BUFWu3/LiyKgUfQM'
#             AppPath            = '/srv/apps/shop'
#             AppName            = 'shop'
#             HealthUrl          = 'http://127.0.0.1:3000/api/health'
#             CachePath          = '/var/cache/nginx/shop'
#         }
#     }
# }
Invoke-ZeroDowntimeDeploy -ConfigurationPath ./deploy.psd1 -Environment production -Ref $env:GITHUB_SHA -KeyFilePath $env:DEPLOY_KEY_PATH
'@
                Remarks = @('In a GitHub Actions step with shell: pwsh, a deploy that fails or is rolled back is a terminating error, so the step fails with the reason in the log. The AedDeploy repository has a commented deploy.psd1 with every setting and a complete workflow in docs/examples/. See about_AedDeploy.')
            }
            @{
                Title   = 'Rehearse a dropped connection during the reload on staging'
                Code    = @'
Invoke-ZeroDowntimeDeploy main -Session $staging -AppPath /srv/apps/shop -AppName shop -HealthUrl http://127.0.0.1:3000/api/health `
    -FaultInjection @{ Phase = 'Reload'; Kind = 'ConnectionDrop'; DelaySec = 1 }
'@
                Remarks = @('One second into the reload, the sshd process serving the session is killed on the server. The deploy reconnects, rolls back and proves the old version healthy: the record says RolledBack, FailedPhase Reload, ErrorId SshConnectionLost, and FaultInjection names what was injected, as does the history entry. With -WhatIf the confirmation line names the fault and nothing runs.')
            }
            @{
                Title   = 'Require the new build to answer, through nginx, before the deploy counts'
                Code    = @'
$deploy = @{
    Session           = $session
    AppPath           = '/srv/apps/shop'
    AppName           = 'shop'
    HealthUrl         = 'https://shop.example.com/api/health'
    ProbeSource       = 'Client'
    VerifyBuildId     = $true
    RequiredSuccesses = 5
    TimeoutSec        = 10
    ReloadTimeout     = 600
}
Invoke-ZeroDowntimeDeploy -Ref v2.4.0 @deploy
'@
                Remarks = @('The health probes go from this machine to the public address, so nginx and its cache are on the way. Five answers in a row must carry the new build id (an X-Build-Id header or the id in the body): an old worker or a cached page fails the Health phase, and the deploy is rolled back. The reload may take up to ten minutes.')
            }
            @{
                Title   = 'Deploy two hosts behind a load balancer, one build, one host at a time'
                Code    = @'
$web1 = New-DeploySession -HostName web1.example.com -UserName deploy
$web2 = New-DeploySession -HostName web2.example.com -UserName deploy
$fleet = Invoke-ZeroDowntimeDeploy v2.5.0 -Session $web1, $web2 -AppPath /srv/apps/shop -AppName shop `
    -HealthUrl http://127.0.0.1:3000/api/health -LoadBalancerUrl https://shop.example.com/api/health -BatchSize 1
$fleet.Hosts | Format-Table HostName, Outcome, ToRelease, FailedPhase
'@
                Remarks = @('web1 (the first in lock order) builds; web2 clones the commit and installs while it builds, then receives the build. Both boot-test it and prove the same build before web1 switches; web2 switches once web1 and the load balancer are healthy. If web2 fails, web1 is rolled back too.')
            }
            @{
                Title   = 'Find out why a deploy was rolled back'
                Code    = @'
try {
    Invoke-ZeroDowntimeDeploy main -Session $session -AppPath /srv/apps/shop -AppName shop -HealthUrl http://127.0.0.1:3000/api/health
}
catch {
    $record = $_.TargetObject
    "$($record.Outcome): $($record.ErrorId) in $($record.FailedPhase)"
    $record.Phases | Format-Table
}
'@
                Remarks = @('The record lists every phase that ran, with its outcome, duration and detail; Rollback is the last one.')
            }
        )
        Links       = @('about_AedDeploy', 'Initialize-DeployTarget', 'Get-DeployHistory', 'Unlock-Deploy', 'New-DeploySession', 'Restore-Build')
    }
    # ------------------------------------------------------------------------------------------------
    @{
        Name        = 'Get-DeployHistory'
        Synopsis    = 'Reads the deploy history the server keeps: deploys, rollbacks, repairs, lock takeovers and unlocks, oldest first.'
        Description = @(
            'Get-DeployHistory reads the newest entries of .aeddeploy/history.jsonl under the app''s root, where Invoke-ZeroDowntimeDeploy, Repair-DeployTarget and Unlock-Deploy append one record per run (Kind Deploy, Repair, TakeOver, Unlock), and returns them oldest first. The history belongs to -AppPath: -AppName is not needed. Each record says who ran what, from which commit, build and release to which, the outcome and its reason, and every phase with its duration. Secrets are never written to the history.'
            'An app that has no history yet returns nothing. A line that is not a record is skipped with a warning. Errors: SessionNotOpen, InvalidAppName, InvalidRemotePath.'
        )
        Parameters  = $appState + @{
            Last = @{ Description = @('How many of the newest entries to read (1 to 100000).'); Default = '20' }
        }
        Inputs      = @(@{ Type = 'System.Object'; Description = 'Session, AppPath, AppName and Layout bind by property name.' })
        Outputs     = @(@{ Type = 'AedDeploy.DeploymentRecord'; Description = 'One record per deploy, rollback or unlock.' })
        Examples    = @(
            @{
                Title   = 'Show the recent deploys'
                Code    = 'Get-DeployHistory -Session $session -AppPath /srv/apps/shop -Last 5'
                Remarks = @(
                    @'
Started     Kind     Outcome    Ref         Release          Failed       Time
-------     ----     -------    ---         -------          ------       ----
11-20 10:15 Deploy   Succeeded  main        20261120T101500Z             31.2s
11-26 06:37 Deploy   RolledBack main        20261126T063700Z Health      38.9s
11-26 07:01 Deploy   Succeeded  main        20261126T070102Z             24.6s
'@
                )
            }
            @{
                Title   = 'Report the deploys that did not succeed, and why'
                Code    = @'
Get-DeployHistory -Session $session -AppPath /srv/apps/shop -AppName shop -Last 200 |
    Where-Object Outcome -ne 'Succeeded' |
    Select-Object StartedAt, User, Ref, Outcome, FailedPhase, ErrorId, Reason
'@
                Remarks = @('ErrorId is the stable id of the failure, such as BuildFailed or AppUnhealthy.')
            }
        )
        Links       = @('about_AedDeploy', 'Invoke-ZeroDowntimeDeploy', 'Unlock-Deploy')
    }
    # ------------------------------------------------------------------------------------------------
    @{
        Name        = 'Unlock-Deploy'
        Synopsis    = "Releases a target's deploy lock at once, for a person who knows its holder is gone, and records why."
        Description = @(
            'Invoke-ZeroDowntimeDeploy holds a lock under .aeddeploy/ while it runs, renews it every few seconds, and always releases it, also on Ctrl+C and after a dropped connection. When the process running it dies (killed, its machine lost), the lock stops being renewed, and the next deploy takes it over once its lease has run out (-LockLease, 60 s by default), repairing the target first. Unlock-Deploy is for a person who knows better and will not wait: it releases the lock at once, whoever holds it, and appends an Unlock entry to the history with -Reason, who released it and who held it. The lock belongs to -AppPath: -AppName is not needed.'
            'Make sure the deploy that holds the lock is no longer running: releasing the lock of a running deploy lets a second one run beside it.'
            'When there is no lock, the cmdlet writes a warning and returns nothing. The change is of high impact: PowerShell asks for confirmation, showing who holds the lock, unless -Confirm:$false is given. Errors: LockReleaseFailed, HistoryWriteFailed, SessionNotOpen, InvalidAppName, InvalidRemotePath.'
        )
        Parameters  = $appState + $whatIf + @{
            Reason = @{ Description = @('Why the lock is released; written to the history with the unlock.'); Default = 'None' }
        }
        Inputs      = @(@{ Type = 'System.Object'; Description = 'Session, AppPath, AppName and Layout bind by property name.' })
        Outputs     = @(@{ Type = 'AedDeploy.LockInfo'; Description = 'The lock that was released: DeployId, User, Ref, StartedAt, Age (the time since its last renewal), Lease, IsExpired.' })
        Examples    = @(
            @{
                Title   = 'Release a lock left by a CI runner that was killed'
                Code    = @'
Unlock-Deploy 'runner killed during the build, run 4711' -Session $session -AppPath /srv/apps/shop
'@
                Remarks = @(
                    'Asks for confirmation, then shows the lock that was released:'
                    @'
DeployId                User                     Ref             Renewed
--------                ----                     ---             -------
20261126T063700Z-4f2a9c runner@ci-7              main                 2h
'@
                )
            }
            @{
                Title   = 'See who holds the lock first, without releasing it'
                Code    = @'
Unlock-Deploy -Reason 'check' -Session $session -AppPath /srv/apps/shop -AppName shop -WhatIf
Get-DeployHistory -Session $session -AppPath /srv/apps/shop -AppName shop -Last 3
'@
                Remarks = @('-WhatIf names the holder and changes nothing; the history shows whether that deploy ever finished.')
            }
        )
        Links       = @('about_AedDeploy', 'Invoke-ZeroDowntimeDeploy', 'Get-DeployHistory')
    }
    # ------------------------------------------------------------------------------------------------
    @{
        Name        = 'Repair-DeployTarget'
        Synopsis    = 'Brings a target back to a consistent state: the last verified release live, the workers on it, health proven, a Repair history entry.'
        Description = @(
            'A deploy that was killed (SIGKILL, a lost CI runner) or a release switched by hand can leave a target half-switched: current pointing at a release nothing ever verified, or the workers running another release than current. Invoke-ZeroDowntimeDeploy refuses such a target with TargetDrifted. Repair-DeployTarget brings it back:'
            '- Release layout: current is pointed back at the last release recorded Verified (the rollback target, never merely what current points at) when it points elsewhere; the releases left Building or Built that nothing is making any more are marked Failed (a killed client does not stop its remote commands: what an abandoned build left running in its release is ended first);'
            '- the workers are reloaded onto it as a rollback reloads them (an interrupted reload is let finish, workers in a crash loop are restarted), when they do not all run it or are not online; workers that do run it, online, but answer unhealthy (as a rollback that failed its health check leaves them) are reloaded once before health is judged;'
            '- health is proven with the same checks as Test-AppHealth (the health parameters are the same) and, unless -ExpectedBuildId names a build or -SkipBuildIdCheck is given, from the build recorded for the release it serves, as after a rollback: an answer whose X-Build-Id (or body) shows another build fails; then the release is recorded as the rollback target (and Verified, when it was not yet);'
            '- a Repair entry is appended to the history, with what was wrong and what was done.'
            'With -KeepLive the live release is kept instead: proven healthy and recorded Verified, as the rollback target. Use it when the release current points at is the one that should serve (for example a release switched to by hand on purpose), or on a target where no release was ever verified.'
            'The repair takes the deploy lock as a deploy does, and renews it while it works: a lock still renewed by a running deploy is refused with DeployLocked (or waited for with -LockWaitTimeout); a lock whose holder stopped renewing it for its lease is taken over, and a TakeOver entry naming that deploy is written too. A deploy that takes over an abandoned lock runs the same repair by itself, before anything else.'
            'With -WhatIf nothing changes: the RepairPlan is returned, with the release that would be live, whether current is switched and the workers reloaded, the releases that would be marked Failed, and every step in words. The change is of high impact: PowerShell asks for confirmation unless -Confirm:$false is given.'
            'Errors (terminating): DeployLocked (ResourceBusy: a deploy that still renews the lock holds it); RepairImpossible (no release is recorded Verified: prove the live one with -KeepLive); BuildIncomplete (the release to put back is not complete); ReleaseSwitchFailed; Pm2ReloadFailed, Pm2ReloadUnhealthy; RepairUnhealthy (the release is live but health was not proven; the TargetObject is the RepairResult); LockFailed; SessionNotOpen, InvalidAppName, InvalidRemotePath, InvalidEcosystemFile.'
        )
        Parameters  = $app + $health + $whatIf + @{
            KeepLive        = @{ Description = @('Keeps the live release: proves it healthy and records it Verified, as the rollback target, instead of putting the last verified release back.'); Default = 'False' }
            SkipBuildIdCheck = @{ Description = @('Leaves out the build id check: health proves the status (and -ContentPattern) only, for an app whose X-Build-Id header carries something else. A deploy that repairs after a takeover follows its own -SkipBuildIdCheck.'); Default = 'False' }
            ReloadTimeout   = @{ Description = @("How long the PM2 reload onto the repaired release may take: a TimeSpan, '00:10:00', or a number of seconds; must be longer than zero."); Default = '5 minutes' }
            LockLease       = @{ Description = @("How long the repair's lock lives without a renewal (as Invoke-ZeroDowntimeDeploy -LockLease): a TimeSpan or a number of seconds; must be longer than zero."); Default = '60 seconds' }
            LockWaitTimeout = @{ Description = @('How long to wait for a deploy that holds the lock to release it or stop renewing it: a TimeSpan or a number of seconds. Zero, the default, does not wait: a held lock fails at once with DeployLocked.'); Default = '0 (do not wait)' }
        }
        Inputs      = @(@{ Type = 'System.Object'; Description = 'Session, AppPath, AppName and Layout bind by property name (the record of a deploy that failed with TargetDrifted, for example).' })
        Outputs     = @(
            @{ Type = 'AedDeploy.RepairResult'; Description = 'Id (of the Repair history entry), ReleaseId (live and proven), Plan (the RepairPlan that was carried out), Fixed (the problems found), TookOverFrom (the abandoned lock''s holder, if any), Reload, Health, Duration.' }
            @{ Type = 'AedDeploy.RepairPlan'; Description = 'With -WhatIf: Consistency (the TargetConsistency found: LiveRelease, RollbackTarget, Workers, Problems), Lock, ReleaseId, SwitchFrom, Reload, RecordVerified, MarkFailed, EndBuilds (releases still Building, whose leftover build processes are ended), Steps.' }
        )
        Examples    = @(
            @{
                Title   = 'See what is wrong and what the repair would do'
                Code    = @'
$plan = Repair-DeployTarget -Session $session -AppPath /srv/apps/shop -AppName shop -Url http://127.0.0.1:3000/api/health -WhatIf
$plan.Consistency.Problems
$plan.Steps
'@
                Remarks = @(
                    'Nothing is changed. For a deploy killed after its switch:'
                    @'
current points at release 20261126T070102Z (Built), but the last release recorded Verified is 20261120T101500Z
point current back at release 20261120T101500Z, the last verified one (from 20261126T070102Z)
mark release(s) 20261126T070102Z Failed: no deploy is making them any more
reload the workers of shop onto release 20261120T101500Z (as a rollback does: an interrupted reload is let finish, a crash loop restarted)
prove health
keep release 20261120T101500Z as the rollback target
'@
                )
            }
            @{
                Title   = 'Repair, then deploy again'
                Code    = @'
$app = @{ Session = $session; AppPath = '/srv/apps/shop'; AppName = 'shop' }
Repair-DeployTarget @app -Url http://127.0.0.1:3000/api/health -Confirm:$false
Invoke-ZeroDowntimeDeploy @app -Ref main -HealthUrl http://127.0.0.1:3000/api/health -Confirm:$false
'@
                Remarks = @(
                    @'
Live              From              Instances  Health    Fixed    Time
----              ----              ---------  ------    -----    ----
20261120T101500Z  20261126T070102Z  2/2 online healthy       1    6.3s
'@
                )
            }
            @{
                Title   = 'Keep a release switched to on purpose'
                Code    = @'
Repair-DeployTarget -Session $session -AppPath /srv/apps/shop -AppName shop -KeepLive -Url http://127.0.0.1:3000/api/health
'@
                Remarks = @('The live release is proven healthy and recorded Verified: the next deploy takes it as its rollback target.')
            }
        )
        Links       = @('about_AedDeploy', 'Invoke-ZeroDowntimeDeploy', 'Get-DeployHistory', 'Get-Release', 'Unlock-Deploy', 'Restore-Build')
    }
)
