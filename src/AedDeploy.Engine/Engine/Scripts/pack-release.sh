# Lists what a built release ships to the other hosts of a fleet: pack-release.sh <root> <id>
# The receivers clone the same commit and install node_modules from its lockfile themselves, so what they lack is
# what the build made: every file git does not track, except node_modules (installed per host: native binaries),
# .next/cache (the build's and the runtime's cache, never read by a receiver), the links into <root>/shared (each
# host has its own shared/, link-shared.sh) and .env.production.local (each host writes its own, DeploymentId).
# Pack before CarryStatic: what it carries in from earlier releases would ship as this build's own.
# Writes, in the release:
#   .next/aeddeploy-ship.list    the paths (NUL-separated, LC_ALL=C sorted), then the manifest as the last entry:
#                                what stream-release.sh archives
#   .next/aeddeploy-ship.sha256  sha256sum lines of every listed regular file, sorted by path, which
#                                receive-release.sh checks. Symlinks are listed (shipped) but not in the manifest:
#                                sha256sum would hash what they point to, which may lie outside the release and
#                                differ from host to host, or not exist.
# Answers the number of files in the manifest and their total bytes (fd 3, see lib.sh): the same count that
# receive-release.sh answers for the same release.
# Exit 20: the release has no .next/BUILD_ID (not built); 21: the files could not be listed or the manifest written.
set -uo pipefail
answer_channel
root=$1 id=$2
release="$root/releases/$id"
list=.next/aeddeploy-ship.list manifest=.next/aeddeploy-ship.sha256
if [ ! -f "$release/.next/BUILD_ID" ]; then
  echo "$release/.next/BUILD_ID is missing: the release has not been built, so there is nothing to ship." >&2
  exit 20
fi
# Links made by link-shared.sh are absolute; the resolved form catches a root given through a link or relatively.
shared="$root/shared/" shared_resolved="$(realpath -m -- "$root/shared")/"
cd "$release" || exit 21

# keep <path>: whether a path the build produced is shipped.
keep() {
  case "/$1/" in */node_modules/*) return 1 ;; esac
  case "$1" in .next/cache/* | .env.production.local | "$list" | "$manifest") return 1 ;; esac
  if [ -L "$1" ]; then
    local target
    target=$(readlink -- "$1") || return 1
    case "$target" in "$shared"*) return 1 ;; esac
    case "$(realpath -m -- "$1")" in "$shared_resolved"*) return 1 ;; esac
  fi
  return 0
}

work=$(mktemp -d) || exit 21
trap 'rm -rf -- "$work"' EXIT
# --others lists ignored files too (no --exclude-standard); --directory collapses a wholly untracked folder into one
# entry ending in /, so that node_modules is never walked. find expands the other folders, pruning what never ships.
if ! git ls-files -z --others --directory > "$work/untracked"; then
  echo "git could not list the untracked files of $release." >&2
  exit 21
fi
expand() {
  local entry
  while IFS= read -r -d '' entry; do
    case "$entry" in
      */) keep "$entry" || continue
          find "${entry%/}" \( -name node_modules -o -path .next/cache \) -prune -o \( -type f -o -type l \) -print0 || return 1 ;;
      *) printf '%s\0' "$entry" ;;
    esac
  done < "$work/untracked"
}
filter() {
  local path
  while IFS= read -r -d '' path; do
    if keep "$path"; then printf '%s\0' "$path"; fi
  done < "$work/expanded"
}
if ! expand > "$work/expanded" || ! filter | LC_ALL=C sort -z > "$list"; then
  echo "The build outputs of $release could not be listed." >&2
  exit 21
fi
regular() {
  local path
  while IFS= read -r -d '' path; do
    if [ ! -L "$path" ]; then printf '%s\0' "$path"; fi
  done < "$list"
}
regular > "$work/regular"
if ! xargs -0 -r sha256sum -- < "$work/regular" > "$manifest" || ! printf '%s\0' "$manifest" >> "$list"; then
  echo "The manifest $release/$manifest could not be written." >&2
  exit 21
fi
bytes=$(xargs -0 -r stat -c %s -- < "$work/regular" | awk '{ total += $1 } END { print total + 0 }') || exit 21
answer "$(wc -l < "$manifest")" "$bytes"
