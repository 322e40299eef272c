# Installs dependencies in a folder: install-dependencies.sh <folder> <seed folder or ''> <previous lockfile hash or ''>
# Prints the install mode on the last line: ci, install (node_modules seeded from the live release
# by hard links, lockfile unchanged), or skipped (InPlace, lockfile unchanged).
set -uo pipefail
folder=$1 seed=${2:-} previous=${3:-}
cd "$folder" || exit 1
flags=(--no-audit --no-fund --include=dev)
if [ -f pnpm-lock.yaml ]; then pnpm install --frozen-lockfile || exit 1; echo ci; exit 0; fi
if [ -f yarn.lock ]; then yarn install --frozen-lockfile || exit 1; echo ci; exit 0; fi
if [ ! -f package-lock.json ] && [ ! -f npm-shrinkwrap.json ]; then npm install "${flags[@]}" || exit 1; echo install; exit 0; fi
lock=package-lock.json; [ -f npm-shrinkwrap.json ] && lock=npm-shrinkwrap.json
hash=$(sha256sum "$lock" | cut -d' ' -f1)
if [ -n "$previous" ] && [ "$hash" = "$previous" ] && [ -d node_modules ] && [ -z "$seed" ]; then
  echo skipped; exit 0
fi
if [ -n "$seed" ] && [ -d "$seed/node_modules" ] && [ -f "$seed/$lock" ] && [ "$(sha256sum "$seed/$lock" | cut -d' ' -f1)" = "$hash" ]; then
  cp -al "$seed/node_modules" node_modules && npm install "${flags[@]}" --prefer-offline && { echo install; exit 0; }
  rm -rf node_modules
fi
npm ci "${flags[@]}" || exit 1
echo ci
