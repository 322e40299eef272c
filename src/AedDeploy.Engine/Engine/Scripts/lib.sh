# Shared by every AedDeploy shell script; prepended when a script is sent.

# resolve_ref <ref>: prints the commit a branch (of origin), tag or commit id names, in the current repository.
resolve_ref() {
  git rev-parse --verify --quiet "refs/remotes/origin/$1^{commit}" \
    || git rev-parse --verify --quiet "refs/tags/$1^{commit}" \
    || { [[ $1 =~ ^[0-9a-f]{7,40}$ ]] && git rev-parse --verify --quiet "$1^{commit}"; }
}
