# Receives a shipped build into a release the engine has cloned and installed:
#   receive-release.sh <root> <id> <archive sha256> <commit>   (stdin: the archive stream-release.sh wrote)
# The archive is stored whole and its hash checked before anything is extracted, because the transport cannot tell
# a complete stream from a cut one (a channel that closed drops the rest silently). The release must hold the
# build's commit, since only the untracked outputs are shipped and the tracked files are git's. After extracting,
# the manifest proves every shipped file arrived as it was built. The stored archive is always removed.
# Answers the number of files in the manifest and the release's BUILD_ID (fd 3, see lib.sh).
# Exit 30: the archive is not the one sent (hash mismatch, or it could not be stored whole); 31: a file does not
# match the manifest (or the manifest or BUILD_ID is missing); 32: the release's HEAD is not <commit>; 33: the
# release folder is missing; 34: the archive could not be extracted (a damaged archive, a member with '..').
set -uo pipefail
answer_channel
root=$1 id=$2 expected=$3 commit=$4
release="$root/releases/$id" incoming="$root/releases/$id.incoming.tgz"
manifest=.next/aeddeploy-ship.sha256
if [ ! -d "$release" ]; then
  echo "The release folder $release is missing: clone the commit and install node_modules there first." >&2
  exit 33
fi
trap 'rm -f -- "$incoming"' EXIT
trap 'exit 1' HUP INT TERM
if ! cat > "$incoming"; then
  echo "The archive could not be stored in $incoming (is the disk full?)." >&2
  exit 30
fi
actual=$(sha256sum -- "$incoming" | cut -d' ' -f1)
# Compared in lower case: .NET writes hex in upper case (Convert.ToHexString).
if [ "$actual" != "${expected,,}" ]; then
  echo "The archive that arrived ($(stat -c %s -- "$incoming") bytes, sha256 $actual) is not the one sent (sha256 ${expected,,}): it was cut or changed on the way." >&2
  exit 30
fi
head=$(git -C "$release" rev-parse --verify --quiet HEAD)
if [ "$head" != "${commit,,}" ]; then
  echo "$release is at commit ${head:-(none)}, but the build is of $commit: its tracked files are not the build's." >&2
  exit 32
fi
# GNU tar strips a leading / and refuses members with '..' (and then fails at the end): no file lands outside.
if ! tar -xzf "$incoming" -C "$release" --no-same-owner; then
  echo "The archive could not be extracted into $release." >&2
  exit 34
fi
cd "$release" || exit 31
if [ ! -f "$manifest" ] || [ ! -f .next/BUILD_ID ]; then
  echo "The archive holds no $manifest or .next/BUILD_ID: it was not made by pack-release.sh." >&2
  exit 31
fi
if ! sha256sum -c --strict --quiet -- "$manifest"; then
  echo "Files in $release do not match the build's manifest $manifest." >&2
  exit 31
fi
answer "$(wc -l < "$manifest")" "$(< .next/BUILD_ID)"
