# The deploy lock, a lease: an atomic mkdir under <state>/lock, with who/when/what in lock/owner.json, the
# holder's deploy id in lock/id and its lease in lock/lease (seconds). The holder renews it (touches the lock
# dir) every few seconds while it works; a lock not renewed for its lease belongs to a deploy that is gone.
# Every change runs under flock on <state>/lock.guard, so that a renewal, a release and a takeover never
# interleave (and a killed script leaves no guard behind: the kernel drops it with the process); show only reads.
#   lock.sh acquire <state> <owner json> <deploy id> <lease s>  exit 0 taken; 10 taken over from an expired holder
#                                                               (prints its json, age, lease); 9 held (prints the same)
#   lock.sh renew <state> <deploy id>                           exit 0 renewed; 8 the lock is not this deploy's
#   lock.sh release <state> <deploy id>                         removes the lock only if that deploy holds it
#   lock.sh show <state>                                        prints the owner's json, age and lease, or nothing
#   lock.sh force <state>                                       removes whatever lock there is (prints what it removed)
# Age is the time since the last renewal (the lock dir's mtime).
set -uo pipefail
action=$1 state=$2
lock="$state/lock"
if [ "$action" != show ]; then
  mkdir -p -- "$state" || exit 1
  exec 8>"$state/lock.guard" || exit 1
  flock -w 20 8 || { echo "Another AedDeploy command kept $state/lock.guard for 20 s." >&2; exit 1; }
fi
age() { echo $(( $(date +%s) - $(stat -c %Y "$1" 2>/dev/null || date +%s) )); }
describe() { printf '%s\n%s\n%s\n' "$(cat "$1/owner.json" 2>/dev/null || echo '{}')" "$(age "$1")" "$(cat "$1/lease" 2>/dev/null)"; }
take() {
  mkdir -- "$lock" 2>/dev/null || return 1
  { printf '%s\n' "$1" > "$lock/owner.json.tmp" && mv -f -- "$lock/owner.json.tmp" "$lock/owner.json" && printf '%s\n' "$2" > "$lock/id" && printf '%s\n' "$3" > "$lock/lease"; } \
    || { rm -rf -- "$lock"; exit 1; }
}
case "$action" in
  acquire)
    take "$3" "$4" "$5" && exit 0
    # The holder's own lease decides (it renews at its own pace); a lock without one gets the taker's.
    lease=$(cat "$lock/lease" 2>/dev/null); [[ $lease =~ ^[0-9]+$ ]] || lease=$5
    if [ "$(age "$lock")" -le "$lease" ]; then describe "$lock"; exit 9; fi
    # Expired: set aside under the guard, so that exactly one taker wins; the caller gets who it was.
    abandoned=$(describe "$lock")
    aside="$state/lock.abandoned"
    rm -rf -- "$aside" && mv -T -- "$lock" "$aside" || exit 1
    take "$3" "$4" "$5" || exit 1
    rm -rf -- "$aside"
    printf '%s\n' "$abandoned"
    exit 10 ;;
  renew)
    [ -d "$lock" ] && [ "$(cat "$lock/id" 2>/dev/null)" = "$3" ] || { echo "The lock is not held by deploy $3 any more: $(cat "$lock/owner.json" 2>/dev/null || echo nobody holds it)" >&2; exit 8; }
    touch -- "$lock" ;;
  release)
    [ -d "$lock" ] || exit 0
    [ "$(cat "$lock/id" 2>/dev/null)" = "$3" ] || { echo "The lock is held by another deploy." >&2; exit 8; }
    rm -rf -- "$lock" ;;
  show)
    [ -d "$lock" ] && describe "$lock"; exit 0 ;;
  force)
    [ -d "$lock" ] || exit 0
    describe "$lock"; rm -rf -- "$lock" ;;
  *) exit 2 ;;
esac
