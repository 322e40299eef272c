# Shared by every AedDeploy shell script; prepended when a script is sent.

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
