# Installs dependencies in a folder: install-dependencies.sh <folder> <seed folder or ''> <previous lockfile hash or ''>
# Answers the install mode (fd 3, see lib.sh): ci, install (node_modules seeded from the live release
# by hard links, lockfile unchanged), or skipped (InPlace, lockfile unchanged). npm, pnpm and yarn run the
# app's package scripts, which print what they like.
set -uo pipefail
answer_channel
folder=$1 seed=${2:-} previous=${3:-}
cd "$folder" || exit 1
flags=(--no-audit --no-fund --include=dev)
if [ -f pnpm-lock.yaml ]; then pnpm install --frozen-lockfile 3>&- || exit 1; answer ci; exit 0; fi
if [ -f yarn.lock ]; then yarn install --frozen-lockfile 3>&- || exit 1; answer ci; exit 0; fi
if [ ! -f package-lock.json ] && [ ! -f npm-shrinkwrap.json ]; then npm install "${flags[@]}" 3>&- || exit 1; answer install; exit 0; fi
lock=package-lock.json; [ -f npm-shrinkwrap.json ] && lock=npm-shrinkwrap.json
hash=$(sha256sum "$lock" | cut -d' ' -f1)
if [ -n "$previous" ] && [ "$hash" = "$previous" ] && [ -d node_modules ] && [ -z "$seed" ]; then
  answer skipped; exit 0
fi
if [ -n "$seed" ] && [ -d "$seed/node_modules" ] && [ -f "$seed/$lock" ] && [ "$(sha256sum "$seed/$lock" | cut -d' ' -f1)" = "$hash" ]; then
  cp -al "$seed/node_modules" node_modules && npm install "${flags[@]}" --prefer-offline 3>&- && { answer install; exit 0; }
  rm -rf node_modules
fi
npm ci "${flags[@]}" 3>&- || exit 1
answer ci
