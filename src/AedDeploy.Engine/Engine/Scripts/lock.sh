# The deploy lock: an atomic mkdir under <state>/lock, with who/when/what in lock/owner.json.
#   lock.sh acquire <state> <owner json> <deploy id>  exit 0 taken; 9 held (prints the owner's json and its age in s)
#   lock.sh release <state> <deploy id>               removes the lock only if that deploy holds it
#   lock.sh show <state>                              prints the owner's json and age, or nothing
#   lock.sh force <state>                             removes whatever lock there is (prints what it removed)
set -uo pipefail
action=$1 state=$2
lock="$state/lock"
owner_age() { printf '%s\n%s\n' "$(cat "$lock/owner.json" 2>/dev/null || echo '{}')" "$(( $(date +%s) - $(stat -c %Y "$lock" 2>/dev/null || date +%s) ))"; }
case "$action" in
  acquire)
    mkdir -p -- "$state" || exit 1
    if mkdir -- "$lock" 2>/dev/null; then
      printf '%s\n' "$3" > "$lock/owner.json.tmp" && mv -f -- "$lock/owner.json.tmp" "$lock/owner.json" && printf '%s\n' "$4" > "$lock/id" || { rm -rf -- "$lock"; exit 1; }
      exit 0
    fi
    owner_age; exit 9 ;;
  release)
    [ -d "$lock" ] || exit 0
    [ "$(cat "$lock/id" 2>/dev/null)" = "$3" ] || { echo "The lock is held by another deploy." >&2; exit 8; }
    rm -rf -- "$lock" ;;
  show)
    [ -d "$lock" ] && owner_age; exit 0 ;;
  force)
    [ -d "$lock" ] || exit 0
    owner_age; rm -rf -- "$lock" ;;
  *) exit 2 ;;
esac
