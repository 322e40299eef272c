# Gives a new release a copy of the live release's build cache: seed-build-cache.sh <folder> <seed folder or ''>
# next build writes its cache files in place, so the release gets a real copy (a reflink where the file system
# offers one: no blocks copied), never hard links into the live release. The image optimizer's cache
# (.next/cache/images) belongs to the running app, not to the build: it stays behind. A cache is only a speed-up:
# when the copy fails, the partial copy is removed and the build starts cold.
# Answers the mode (reflink, copy, none when there is nothing to copy, failed) and the bytes copied (fd 3).
set -uo pipefail
answer_channel
folder=$1 seed=${2:-}
from="$seed/.next/cache" to="$folder/.next/cache"
if [ -z "$seed" ] || [ ! -d "$from" ] || [ -e "$to" ]; then answer none 0; exit 0; fi
mkdir -p -- "$to" || { answer failed 0; exit 0; }
mode=reflink
shopt -s dotglob nullglob
for entry in "$from"/*; do
  name=${entry##*/}
  [ "$name" = images ] && continue
  if [ "$mode" = reflink ] && ! cp -a --reflink=always -- "$entry" "$to/" 2>/dev/null; then
    rm -rf -- "${to:?}/$name"; mode=copy
  fi
  if [ "$mode" = copy ] && ! cp -a -- "$entry" "$to/"; then
    rm -rf -- "$to"; answer failed 0; exit 0
  fi
done
answer "$mode" "$(du -sb -- "$to" | cut -f1)"
