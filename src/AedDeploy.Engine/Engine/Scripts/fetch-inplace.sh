# Moves the InPlace checkout to a ref, as the hand-written process did: fetch-inplace.sh <folder> <ref> [resolve]
# Nothing changes when the ref does not exist. Prints the commit, then the lockfile hash before the reset.
# With 'resolve' it stops before the reset and prints only the commit: the deploy's Fetch phase, which
# changes nothing live, so that the Build phase (which resets) is the first to touch the checkout.
# Exit 11: the ref is not in origin; 12: the fetch failed (both before the reset); 13: the reset failed.
set -uo pipefail
folder=$1 ref=$2
cd "$folder" || exit 12
git fetch --quiet --prune --tags origin || exit 12
commit=$(resolve_ref "$ref") || { echo "'$ref' is not a branch, tag or commit of $(git remote get-url origin)." >&2; exit 11; }
[ "${3:-}" = resolve ] && { printf '%s\n' "$commit"; exit 0; }
lock_hash=$(sha256sum package-lock.json 2>/dev/null | cut -d' ' -f1)
git reset --quiet --hard "$commit" || exit 13
printf '%s\n%s\n' "$commit" "$lock_hash"
