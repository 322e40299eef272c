# Puts an InPlace backup back: restore-inplace.sh <folder> <commit>
# The checkout is reset to the backup's commit, and .next.backup is copied aside and swapped in with
# .next in one step (two renames where the system cannot swap), so .next is never missing.
# Answers (fd 3, see lib.sh) 'reinstall' when the lockfile changed, so the caller installs the old
# dependencies again, then 'restored'.
# Exit 3: there is no backup; 4: the commit is not in the repository.
set -uo pipefail
answer_channel
folder=$1 commit=$2
cd "$folder" || exit 1
[ -f .next.backup/BUILD_ID ] || { echo "There is no backup in $folder/.next.backup." >&2; exit 3; }
git cat-file -e "$commit^{commit}" 2>/dev/null || { echo "Commit $commit is not in the repository." >&2; exit 4; }
lock_before=$(sha256sum package-lock.json 2>/dev/null | cut -d' ' -f1)
git reset --quiet --hard "$commit" || exit 1
lock_after=$(sha256sum package-lock.json 2>/dev/null | cut -d' ' -f1)
staged=.next.aeddeploy-restore old=.next.aeddeploy-old
rm -rf -- "$staged" "$old"
cp -a .next.backup "$staged" || { rm -rf -- "$staged"; exit 1; }
if [ -e .next ]; then
  if exchange "$staged" .next; then rm -rf -- "$staged"
  else mv -T -- .next "$old" && mv -T -- "$staged" .next && rm -rf -- "$old" || exit 1
  fi
else
  mv -T -- "$staged" .next || exit 1
fi
[ "$lock_before" = "$lock_after" ] || answer reinstall
answer restored
