# Gives a release's `next start` its Next.js deployment id: write-deployment-id.sh <release> <id>
# Next loads .env.production.local from the app's folder when it starts (values already in the environment, such
# as the ecosystem file's, win over it), so the id travels with the release: its boot test, the reload, a PM2
# restart and a rollback to it all start it with its own id, and a later release without one starts without.
# Exit 4: the file is a link (shared/ linked into every release), where one release's id cannot go.
set -uo pipefail
release=$1 id=$2
file="$release/.env.production.local"
if [ -L "$file" ]; then
  echo "$file is a link to $(readlink -- "$file"): it is shared by every release, so a release's own deployment id cannot be written there" >&2
  exit 4
fi
{
  if [ -f "$file" ]; then grep -v '^[[:space:]]*\(export[[:space:]]\+\)\?NEXT_DEPLOYMENT_ID=' -- "$file"; fi
  printf 'NEXT_DEPLOYMENT_ID=%s\n' "$id"
} > "$file.aeddeploy-tmp" && mv -f -- "$file.aeddeploy-tmp" "$file"
