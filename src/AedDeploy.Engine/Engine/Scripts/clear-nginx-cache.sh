# Empties an nginx proxy cache and reloads nginx only when its configuration is valid:
# clear-nginx-cache.sh <cache path> <test command> <reload command>
# Open-source nginx has no purge: a deleted cache file is a miss. Answers (fd 3, see lib.sh) 'removed <n>',
# then 'reloaded'; what nginx prints goes to the log.
# Empty commands: the files are deleted and nginx is left alone.
# Exit 3: no cache folder; 4: the configuration test failed (nginx not reloaded); 5: the reload failed.
set -uo pipefail
answer_channel
cache=$1 test_command=$2 reload_command=$3
[ -d "$cache" ] || { echo "The cache folder $cache does not exist." >&2; exit 3; }
removed=$(find "$cache" -mindepth 1 -type f -print -delete 2>/dev/null | wc -l)
answer "removed $removed"
[ -n "$test_command$reload_command" ] || exit 0
bash -c "$test_command" 3>&- || exit 4
bash -c "$reload_command" 3>&- || exit 5
answer reloaded
