# Writes a packed release as a gzip'd tar to stdout: stream-release.sh <root> <id>
# stdout is the archive, so nothing else may reach it: no answer channel, every message on stderr. The archive holds
# the files pack-release.sh listed (its manifest among them); gzip -1 because the network, not the CPU, is what a
# ship waits for (docs/design/fleet.md §2.1). Only the exit status proves the archive complete.
# Exit 22: the release or its list is missing, or the list does not name the manifest (pack-release.sh has not run);
# 23: tar or gzip failed (the bytes written so far are not an archive to use).
set -uo pipefail
root=$1 id=$2
release="$root/releases/$id"
list=.next/aeddeploy-ship.list manifest=.next/aeddeploy-ship.sha256
if ! cd "$release" 2>/dev/null || [ ! -f "$list" ] || [ ! -f "$manifest" ] || ! grep -qzxF -- "$manifest" "$list"; then
  echo "$release has no $list naming $manifest: run pack-release.sh first." >&2
  exit 22
fi
# --verbatim-files-from: a listed name that starts with '-' is a file, never an option; --no-recursion: the list
# names files, so a folder that slipped in can never bring node_modules with it.
tar -cf - --no-recursion --null --verbatim-files-from -T "$list" | gzip -1 || {
  echo "Archiving $release failed." >&2
  exit 23
}
