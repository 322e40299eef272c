# Checks out a ref into a new release folder: fetch-release.sh <root> <id> <ref> [<repository>]
# Objects are borrowed from the live release while cloning (then copied), so a fetch is fast.
# Answers the commit (fd 3, see lib.sh).
# Exit 10: the release exists; 11: the ref is not in the repository; 12: the clone failed.
set -uo pipefail
answer_channel
root=$1 id=$2 ref=$3 repository=${4:-}
release="$root/releases/$id" live="$root/current"
if [ -z "$repository" ]; then
  repository=$(git -C "$live" remote get-url origin 2>/dev/null) || { echo "The live release has no git remote 'origin'; give the repository with -Repository." >&2; exit 12; }
fi
[ -e "$release" ] && { echo "The release folder $release already exists." >&2; exit 10; }
mkdir -p "$root/releases" || exit 12
reference=()
[ -d "$live/.git" ] && reference=(--reference-if-able "$live" --dissociate)
if ! git clone --quiet --no-checkout "${reference[@]}" -- "$repository" "$release"; then
  rm -rf -- "$release"; exit 12
fi
cd "$release" || exit 12
commit=$(resolve_ref "$ref") || {
  cd / && rm -rf -- "$release"
  echo "'$ref' is not a branch, tag or commit of $repository." >&2; exit 11
}
git -c advice.detachedHead=false checkout --quiet --detach "$commit" || exit 12
answer "$commit"
