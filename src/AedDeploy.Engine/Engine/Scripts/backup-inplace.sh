# Copies the live .next of an InPlace checkout to .next.backup: backup-inplace.sh <folder> <build id>
# The copy is made aside and renamed into place, so .next.backup is never half-copied. The build
# cache (.next/cache) is left out: next start does not need it. Answers the commit the build belongs to (fd 3,
# see lib.sh).
set -uo pipefail
answer_channel
folder=$1 build_id=$2
cd "$folder" || exit 1
commit=$(git rev-parse --verify HEAD) || exit 1
new=.next.backup.aeddeploy-new old=.next.backup.aeddeploy-old
rm -rf -- "$new" "$old"
mkdir "$new" || exit 1
shopt -s dotglob nullglob
for entry in .next/*; do
  [ "${entry##*/}" = cache ] && continue
  cp -a -- "$entry" "$new/" || { rm -rf -- "$new"; exit 1; }
done
[ -e .next.backup ] && { mv -T -- .next.backup "$old" || exit 1; }
mv -T -- "$new" .next.backup || exit 1
rm -rf -- "$old"
mkdir -p .aeddeploy
printf '{"commit":"%s","buildId":"%s","createdAt":"%s"}\n' "$commit" "$build_id" "$(date -u +%FT%TZ)" > .aeddeploy/backup.json.tmp \
  && mv -f .aeddeploy/backup.json.tmp .aeddeploy/backup.json || exit 1
# AedDeploy's own files must never show up in git status or be removed by a reset.
grep -qxF '/.aeddeploy/' .git/info/exclude 2>/dev/null || printf '/.aeddeploy/\n/.next.backup*\n' >> .git/info/exclude
answer "$commit"
