# Moves the InPlace checkout to a ref, as the hand-written process did: fetch-inplace.sh <folder> <ref> [resolve]
# Nothing changes when the ref does not exist. Answers (fd 3, see lib.sh) two lines: the commit, then the
# lockfile hash before the reset (empty without a lockfile). With 'resolve' it stops before the reset and
# answers only the commit: the deploy's Fetch phase, which changes nothing live, so that the Build phase
# (which resets) is the first to touch the checkout.
# Exit 11: the ref is not in origin; 12: the fetch failed (both before the reset); 13: the reset failed.
set -uo pipefail
answer_channel
folder=$1 ref=$2
cd "$folder" || exit 12
git fetch --quiet --prune --tags origin || exit 12
commit=$(resolve_ref "$ref") || { echo "'$ref' is not a branch, tag or commit of $(git remote get-url origin)." >&2; exit 11; }
[ "${3:-}" = resolve ] && { answer "$commit"; exit 0; }
lock_hash=$(sha256sum package-lock.json 2>/dev/null | cut -d' ' -f1)
git reset --quiet --hard "$commit" || exit 13
answer "$commit" "$lock_hash"
