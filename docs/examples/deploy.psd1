# A deploy description for Invoke-ZeroDowntimeDeploy, checked in beside the app (here: a Next.js shop run
# by PM2 as 'shop' behind nginx). One entry per environment under Environments:
#
#   Invoke-ZeroDowntimeDeploy -ConfigurationPath ./deploy.psd1 -Environment staging
#   Invoke-ZeroDowntimeDeploy -ConfigurationPath ./deploy.psd1 -Environment production -Ref <commit> -KeyFilePath <key>
#
# How it is read:
# - As data only, like Import-PowerShellDataFile: nothing in it runs, so no variables or commands
#   ($true and $false are allowed).
# - Every key is the name of an Invoke-ZeroDowntimeDeploy parameter; a parameter given on the command line
#   wins over the file (but -HostName cannot be given with -ConfigurationPath: give -Session instead to
#   deploy an environment to another server). A key that is not a setting is an error
#   (ConfigurationKeyUnknown), so a typo never falls back to a default silently. An environment holds only
#   what it sets; nothing is inherited.
# - Values are converted to the parameter's type as PowerShell converts them, without the parameter's own
#   checks: write times as 'hh:mm:ss' strings (a bare number is not read as seconds here), switches as
#   $true or $false, and several URLs as @('...', '...').
# - KeyFilePath and KnownHostsPath are paths on the machine that runs the deploy, relative to this file,
#   and may start with ~.
# - Secrets never go here: a key passphrase (-KeyPassphrase) or a password (-Credential) is given on the
#   command line, and so is -AcceptNewHostKey.
@{
    Environments = @{
        # The rehearsal server: every setting, so this entry doubles as the reference.
        staging    = @{
            # --- The connection (when no -Session is given, the deploy opens its own and closes it) ---
            # The server, as DNS knows it.
            HostName           = 'staging.example.com'
            # sshd's port.
            Port               = 22
            # The SSH user that owns the app's folders and runs PM2.
            UserName           = 'deploy'
            # The private key (OpenSSH or PEM format) on the machine that runs the deploy.
            KeyFilePath        = '~/.ssh/aeddeploy_staging_ed25519'
            # The host key, pinned by its SHA256 fingerprint: an unknown or changed key stops the deploy. Take it
            # from the server itself (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub); pinning makes
            # known_hosts unread. One fingerprint pins one host: a fleet checks known_hosts (production below).
            HostKeyFingerprint = 'SHA256:p2QAMXNIC1TJYWeIOttrVc98/R1BUFWu3/LiyKgUfQM'

            # --- The app on the server ---
            # The app's root: releases/, current, shared/ and .aeddeploy/ (set it up once with
            # Initialize-DeployTarget).
            AppPath            = '/srv/apps/shop'
            # The app's name in PM2, as 'pm2 list' shows it.
            AppName            = 'shop'
            # Release (zero-downtime) or InPlace (one checkout whose build rewrites the live .next).
            Layout             = 'Release'
            # What a deploy to staging builds when no -Ref is given.
            Ref                = 'main'
            # Where a new release is cloned from (by default the live release's origin).
            Repository         = 'git@github.com:example/shop.git'
            # Run with bash in the new release after the dependencies are installed.
            BuildCommand       = 'npm run build'
            # How long the build may take before it is stopped and the deploy fails.
            BuildTimeout       = '00:20:00'
            # The CPU niceness of the install and the build (0 to 19; 0 is normal priority), so live traffic keeps its cores.
            BuildNiceness      = 10
            SkipBuildCache     = $false
            # How PM2 is called: needed when pm2 is not on the PATH of non-interactive SSH sessions (nvm).
            Pm2Path            = '/home/deploy/.nvm/versions/node/v22.11.0/bin/pm2'
            # The ecosystem file in each release: it sets cwd to /srv/apps/shop/current, wait_ready and the
            # ready preload (see about_AedDeploy).
            EcosystemFile      = 'ecosystem.config.cjs'

            # --- What proves the new version healthy (and, after a rollback, the old one) ---
            # The URLs to probe; the first one's path is also what the boot test asks the new release for.
            HealthUrl          = 'http://127.0.0.1:3000/api/health'
            # The status every answer must have.
            ExpectedStatus     = 200
            # A regular expression the new version's answers must match (not used after a rollback).
            ContentPattern     = '"status":"ok"'
            # Server: probes are sent from the server with curl, so a loopback-only port is reachable.
            # Client: from the machine that runs the deploy, as a visitor would.
            ProbeSource        = 'Server'
            # The build id is checked by default wherever an answer shows one (the ready preload's X-Build-Id
            # header, or the id in the body). Strict: an answer that shows none fails too, so a server that lost
            # the preload cannot pass on its status alone.
            VerifyBuildId      = $true
            # $true turns the build id check off (for an app whose X-Build-Id header means something else);
            # it cannot be combined with VerifyBuildId.
            SkipBuildIdCheck   = $false
            # How many answers in a row each URL must pass.
            RequiredSuccesses  = 3
            # Seconds one probe may take.
            TimeoutSec         = 5
            # How many times a failed probe is tried again, and the seconds between tries.
            MaximumRetryCount  = 5
            RetryIntervalSec   = 3
            # Seconds during which PM2 must show no restart of any instance (a crash loop shows here).
            StabilizationSec   = 3
            # How long pm2 reload may take for all instances (also in a rollback).
            ReloadTimeout      = '00:05:00'
            # Boot the new release on a spare loopback port and probe it before the live workers are
            # touched ($true leaves that out, for an app that cannot start twice on one machine).
            SkipBootTest       = $false
            # How long the boot test may wait for the new release's answer.
            BootTestTimeout    = '00:01:00'

            # --- nginx ---
            # The proxy_cache_path folder, emptied once the new version is healthy.
            CachePath          = '/var/cache/nginx/shop-staging'
            # Tests nginx's configuration; nginx is reloaded only when it passes. The deploy user needs a
            # sudoers rule for exactly these two commands (sudo -n never prompts).
            NginxTestCommand   = 'sudo -n nginx -t'
            NginxReloadCommand = 'sudo -n nginx -s reload'
            # $true: a failed cache purge fails the deploy, which is then rolled back; $false: a warning.
            StrictCachePurge   = $false

            # --- The deploy itself ---
            # How long to wait for another deploy's lock ('00:00:00': fail at once with DeployLocked).
            # Rehearsals queue behind each other here.
            LockWaitTimeout    = '00:10:00'
            # The deploy renews its lock every few seconds; one not renewed for this long belongs to a deploy
            # that died (a killed runner), and the next deploy takes it over and repairs what it left.
            LockLease          = '00:01:00'
            # Releases kept after a successful deploy; the live one and the rollback target always stay.
            KeepReleases       = 3
            # Skew protection: a new release carries the static files of the live release and the one before
            # it (fewer than KeepReleases, so both are still on disk), as long as each stopped serving less
            # than a day ago: testers reload often.
            StaticRetentionReleases = 2
            StaticRetentionDays     = 1
        }

        # Production: two servers behind a load balancer, deployed as one fleet from CI
        # (github-actions-deploy.yml), which gives -Ref (the commit it tested) and -KeyFilePath (the key it
        # wrote from a secret). One build (on web1, the first in lock order), shipped to web2; both are proven
        # to hold the same build and boot-tested before either switches; then one server at a time, and if
        # anything fails on either, every switched server goes back.
        production = @{
            # The servers; they share every setting of this entry (the same user, paths and ports).
            HostName           = @('web1.example.com', 'web2.example.com')
            # The SSH user.
            UserName           = 'deploy'
            # Each server's host key is checked against this OpenSSH known_hosts file, which the workflow
            # writes from a secret holding one line per server (ssh-keyscan, checked against the servers' own
            # fingerprints); an unknown or changed key stops the deploy before anything changes.
            KnownHostsPath     = '~/.ssh/known_hosts'
            # The app's root and its name in PM2.
            AppPath            = '/srv/apps/shop'
            AppName            = 'shop'
            # Where new releases are cloned from.
            Repository         = 'git@github.com:example/shop.git'
            # A production build with source maps uploaded takes longer.
            BuildCommand       = 'npm run build:production'
            BuildTimeout       = '00:30:00'
            # The health route on loopback, and the home page through the same port.
            HealthUrl          = @('http://127.0.0.1:3000/api/health', 'http://127.0.0.1:3000/')
            # Every answer must show the new build id (strict; the check runs by default wherever one is shown).
            VerifyBuildId      = $true
            # Stricter than staging: five answers in a row per URL.
            RequiredSuccesses  = 5
            # The proxy cache that fronts the shop.
            CachePath          = '/var/cache/nginx/shop'
            # A stale cache in production is worth a rollback.
            StrictCachePurge   = $true
            # A deploy started while another runs waits up to 15 minutes for its lock.
            LockWaitTimeout    = '00:15:00'
            # Releases kept on disk for rollbacks and inspection.
            KeepReleases       = 5
            # Tabs opened on the last three versions, up to a week after each was replaced, keep loading
            # their hashed chunks from the new workers (hard links: next to no disk).
            StaticRetentionReleases = 3
            StaticRetentionDays     = 7

            # --- The fleet ---
            # How many servers switch at once: a count, or a share of the fleet such as '50%' (at least one).
            BatchSize          = '1'
            # How long to watch a switched batch before the next one switches.
            BatchWait          = '00:00:30'
            # How many servers clone, install, receive and check the build at the same time.
            ThrottleLimit      = 4
            # Probed from the runner through the load balancer after each batch (status only: during the
            # rollout both versions answer). A failure rolls every switched server back.
            LoadBalancerUrl    = 'https://shop.example.com/api/health'
            # Each server's nginx serves /_next/static from its static pool (Initialize-DeployTarget
            # -StaticPool), so that a page from a switched server loads its new chunks from any server.
            # $true only where the chunks come from elsewhere (a CDN that pulls from one server).
            SkipStaticPool     = $false
        }
    }
}
