# end-release-processes.sh <root> <release id>...: ends what an abandoned deploy left running in releases it was
# building (npm, next build: a killed client does not stop its remote commands). Only releases still Building are
# given, which no PM2 worker can run from. Each process whose cwd is in one of them has its process group sent
# TERM, then KILL 2 s later; prints one line per process found.
set -uo pipefail
root=$(readlink -f -- "$1") || exit 0; shift
own=$(ps -o pgid= -p $$ | tr -d ' ')
groups=""
for id in "$@"; do
  dir="$root/releases/$id"
  for proc in /proc/[0-9]*; do
    cwd=$(readlink -- "$proc/cwd" 2>/dev/null) || continue
    case "$cwd" in "$dir" | "$dir"/*) ;; *) continue ;; esac
    pid=${proc#/proc/}
    pgid=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')
    [ -n "$pgid" ] && [ "$pgid" != "$own" ] || continue
    groups="$groups $pgid"
    echo "pid $pid in release $id: $(tr '\0' ' ' < "$proc/cmdline" 2>/dev/null | cut -c1-100)"
  done
done
[ -n "$groups" ] || exit 0
groups=$(printf '%s\n' $groups | sort -u)
for g in $groups; do kill -TERM -- "-$g" 2>/dev/null; done
sleep 2
for g in $groups; do kill -KILL -- "-$g" 2>/dev/null; done
exit 0
