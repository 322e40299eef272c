# Shared by every AedDeploy shell script; prepended when a script is sent. The exit codes each script
# documents in its header are named in ScriptExitCodes.cs, beside the scripts: change both together.

# answer_channel: a script that runs code it does not control (the app's npm scripts, git, nginx) calls it
# first. Its answer then goes to fd 3, which becomes the command's stdout, and everything else it or those
# tools print goes to stderr, where it is logged and never parsed: an app that prints (even JSON, even the
# words the script answers) cannot be taken for the answer. Tools that run the app's code get 3>&- so that
# they can neither write to the answer nor keep it open.
answer_channel() { exec 3>&1 1>&2; }

# answer <line>...: one line of the answer each.
answer() { printf '%s\n' "$@" >&3; }

# resolve_ref <ref>: prints the commit a branch (of origin), tag or commit id names, in the current repository.
resolve_ref() {
  git rev-parse --verify --quiet "refs/remotes/origin/$1^{commit}" \
    || git rev-parse --verify --quiet "refs/tags/$1^{commit}" \
    || { [[ $1 =~ ^[0-9a-f]{7,40}$ ]] && git rev-parse --verify --quiet "$1^{commit}"; }
}

# exchange <a> <b>: swaps two paths in one step (renameat2 RENAME_EXCHANGE through perl), so that neither
# is ever missing. Fails where the kernel, file system or architecture does not offer it.
exchange() {
  perl -e 'my %nr = (x86_64 => 316, aarch64 => 276); my ($arch) = `uname -m` =~ /(\S+)/;
    exit 2 unless $nr{$arch}; exit(syscall($nr{$arch}, -100, $ARGV[0], -100, $ARGV[1], 2) == 0 ? 0 : 1)' -- "$1" "$2" 2>/dev/null
}
