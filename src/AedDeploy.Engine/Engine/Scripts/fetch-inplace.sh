# Moves the InPlace checkout to a ref, as the hand-written process did: fetch-inplace.sh <folder> <ref>
# Nothing changes when the ref does not exist. Answers (fd 3, see lib.sh) two lines: the commit, then the
# lockfile hash before the reset (empty without a lockfile).
# Exit 11: the ref is not in origin; 12: the fetch failed (both before the reset); 13: the reset failed.
set -uo pipefail
answer_channel
folder=$1 ref=$2
cd "$folder" || exit 12
git fetch --quiet --prune --tags origin || exit 12
commit=$(resolve_ref "$ref") || { echo "'$ref' is not a branch, tag or commit of $(git remote get-url origin)." >&2; exit 11; }
lock_hash=$(sha256sum package-lock.json 2>/dev/null | cut -d' ' -f1)
git reset --quiet --hard "$commit" || exit 13
answer "$commit" "$lock_hash"
