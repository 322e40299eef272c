# Keeps the static pool that nginx serves every release's hashed chunks from (docs/design/fleet.md §4):
#   pool-static.sh fill <root> <release id>    links the release's .next/static files into the pool
#   pool-static.sh prune <root>                removes the pool's files that no release holds any more
# The pool is <root>/static/_next/static (nginx: root <root>/static), made of hard links into the releases: a file
# costs no space while a release holds it, and its link count says whether one still does. A path two builds fill
# with different content (with a fixed build id, <build id>/_buildManifest.js) cannot serve both versions from one
# pool: it leaves the pool for good (listed in <root>/static/.aeddeploy-unpooled), so that nginx passes it to the
# host's own app, which serves its own version's file.
# A release file with the content of a pool file at another inode (built again, not carried) is replaced by a link to
# the pool's, so that the pool's file stays held while any release that has it lives.
# Answers (fd 3, see lib.sh) for fill: the files linked, those already present with the same content, and the
# collisions (paths with other content, taken out of the pool, each named on stderr); for prune: the files removed.
# Exit 2: unknown mode or a missing argument; 40: a link could not be made (the pool must be on the releases' file system);
# 41: the release has no .next/static (not built).
set -uo pipefail
answer_channel
mode=${1:-} root=${2:-}
pool="$root/static/_next/static"
# nginx reads the pool as another user: folders made here are 755 whatever the deploying shell's umask; the
# files keep the modes the build gave them (a hard link shares them).
umask 022

fill() {
  local id=$1 from="$root/releases/$1/.next/static"
  local linked=0 present=0 collisions=0 file destination
  if [ ! -d "$from" ]; then
    echo "$from is missing: the release $id has no build." >&2
    exit 41
  fi
  if ! mkdir -p -- "$pool"; then
    echo "The static pool $pool could not be created." >&2
    exit 40
  fi
  if [ "$(stat -c %d -- "$from")" != "$(stat -c %d -- "$pool")" ]; then
    echo "The static pool $pool is on another file system than $from: it is made of hard links, so it must be on the releases' file system." >&2
    exit 40
  fi
  local unpooled="$root/static/.aeddeploy-unpooled"
  while IFS= read -r -d '' file; do
    file=${file#"$from"/} destination="$pool/$file"
    if [ -f "$unpooled" ] && grep -qxF -- "$file" "$unpooled"; then
      collisions=$((collisions + 1)); continue
    fi
    if [ ! -e "$destination" ] && [ ! -L "$destination" ]; then
      if mkdir -p -- "${destination%/*}" && ln -- "$from/$file" "$destination" 2>/dev/null; then
        linked=$((linked + 1)); continue
      fi
      # Another fill may have linked it in the meantime; anything else is a link that cannot be made.
      if [ ! -e "$destination" ]; then
        echo "$from/$file could not be linked into the static pool $pool: the pool must be on the releases' file system, writable by the deploying user." >&2
        exit 40
      fi
    fi
    if [ "$from/$file" -ef "$destination" ]; then
      present=$((present + 1))
    elif cmp -s -- "$from/$file" "$destination"; then
      # The same content built again (the runtime chunk of every version): the release takes the pool's file, so
      # that the pool's file is held by this release too and prune keeps it while the release lives.
      present=$((present + 1))
      ln -f -- "$destination" "$from/$file.aeddeploy-pool" 2>/dev/null && mv -f -- "$from/$file.aeddeploy-pool" "$from/$file" \
        || rm -f -- "$from/$file.aeddeploy-pool"
    else
      collisions=$((collisions + 1))
      printf '%s\n' "$file" >> "$unpooled" && rm -f -- "$destination"
      echo "Static pool collision: $destination held other content than the release $id's $file; that path is served by each host's app from now on." >&2
    fi
  done < <(find "$from" -type f -print0)
  answer "$linked" "$present" "$collisions"
}

prune() {
  local removed=0
  if [ -d "$pool" ]; then
    # A link count of 1 is the pool's own link: every release that held the file is gone.
    removed=$(find "$pool" -type f -links 1 -printf x -delete | wc -c)
    find "$pool" -mindepth 1 -type d -empty -delete
  fi
  answer "$removed"
}

case "$mode:${root:+root}:${3:+id}" in
  fill:root:id) fill "$3" ;;
  prune:root:*) prune ;;
  *) echo "Usage: pool-static.sh fill <root> <release id>, or pool-static.sh prune <root>." >&2; exit 2 ;;
esac
