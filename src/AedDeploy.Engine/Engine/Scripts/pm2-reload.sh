# Reloads (or restarts) one app from its live folder: pm2-reload.sh <folder> <pm2> <ecosystem file> <app> reload|restart [force]
# With the ecosystem file when the folder has it (so PM2 reads the new env), else by name. One instance at a
# time (PM2_CONCURRENT_ACTIONS=1): an old worker is only replaced once the one before it is up.
# PM2 refuses a reload for 30 s after another one took its reload.lock (a reload cut short never clears it):
# this waits for that reload to end, unless 'force' (a rollback taking over from the reload it interrupted).
set -uo pipefail
folder=$1 pm2=$2 file=$3 app=$4 action=$5 force=${6:-}
cd "$folder" || exit 1
export PM2_CONCURRENT_ACTIONS=1
options=(--update-env)
if [ "$action" = reload ] && [ "$force" = force ]; then
  options+=(--force)
elif [ "$action" = reload ]; then
  lock="${PM2_HOME:-$HOME/.pm2}/reload.lock" said=
  while t=$(cat -- "$lock" 2>/dev/null) && [ -n "$t" ] && [ $(( $(date +%s%3N) - t )) -lt "${PM2_RELOAD_LOCK_TIMEOUT:-30000}" ]; do
    [ -n "$said" ] || { echo "Another PM2 reload is in progress ($lock); waiting for it to end." >&2; said=1; }
    sleep 0.5
  done
fi
if [ -f "$file" ]; then exec "$pm2" "$action" "$file" --only "$app" "${options[@]}"; fi
exec "$pm2" "$action" "$app" "${options[@]}"
