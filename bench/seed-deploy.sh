#!/usr/bin/env bash
# The seed: the team's hand-written six-phase deploy that AedDeploy replaces, kept faithful for the
# side-by-side benchmark (bench/Measure-ZeroDowntimeDeploy.ps1; DESIGN.md, "The seed process, measured").
# Its flaws are the point of the comparison: each one is marked FLAW below and must not be fixed.
#
# Runs ON the server, in the InPlace layout (one checkout with .next and .next.backup), for example:
#   ssh -i KEY -p PORT USER@HOST 'bash -s -- APP_DIR APP_NAME HEALTH_URL CACHE_PATH NGINX_RELOAD [BRANCH]' < seed-deploy.sh
# Arguments:
#   APP_DIR       the checkout PM2 runs the app from
#   APP_NAME      the PM2 app name
#   HEALTH_URL    the URL the last phase checks (curl on the server)
#   CACHE_PATH    nginx's proxy_cache_path, emptied in phase 6
#   NGINX_RELOAD  the command that reloads nginx (run with eval: it may carry its own -p/-c)
#   BRANCH        the branch of origin to deploy (default main)
# Each phase starts with a line 'SEED-PHASE <n> <name>', which the benchmark timestamps.

# FLAW: no `set -e` and no `pipefail`: a failing command is only noticed where the script tests it
# explicitly, and several are never tested (git, npm install, pm2 reload, the nginx reload).
APP_DIR=$1 APP_NAME=$2 HEALTH_URL=$3 CACHE_PATH=$4 NGINX_RELOAD=$5 BRANCH=${6:-main}

phase() { echo "SEED-PHASE $1 $2"; }

# FLAW: no lock: two deploys at once both run, in the same folder.
cd "$APP_DIR" || exit 1

phase 1 backup
# FLAW: whatever .next holds is copied, complete or not, build cache included; nothing records which
# commit it belongs to, so a rollback can only ever put back .next, never the code.
rm -rf .next.backup
cp -r .next .next.backup

phase 2 update
# FLAW: the live checkout is moved under the running app (files the workers have not loaded yet change
# now), and a ref that does not exist is not noticed: the reset fails, the old code is rebuilt.
git fetch origin
git reset --hard "origin/$BRANCH"
# FLAW: `npm install`, not `npm ci`: it may rewrite the lockfile, and its exit status is ignored.
npm install

phase 3 build
# FLAW: `next build` runs in the live folder: it wipes the .next the running workers read about 1.3 s
# after it starts and rebuilds it over the next seconds, so static chunks and routes the workers have not
# loaded yet answer 500 while it runs. An in-place build is never zero-downtime.
if ! npm run build; then
  echo "Build failed, restoring the previous build" >&2
  # FLAW: puts back .next but not the code or node_modules (git stays at the new commit), and .next is
  # missing altogether between the rm and the end of the copy.
  rm -rf .next
  cp -r .next.backup .next
  exit 1
fi

phase 4 validate
# FLAW: BUILD_ID is written before static generation ends: its presence proves nothing about the build.
if [ ! -f .next/BUILD_ID ]; then
  echo "Build artifacts missing, restoring the previous build" >&2
  rm -rf .next
  cp -r .next.backup .next
  exit 1
fi

phase 5 reload
# FLAW: the exit status is ignored: a broken ecosystem file makes the reload fail and the script goes on.
# PM2 itself exits 0 when the new workers crash, after killing the healthy old ones.
# FLAW: --update-env adds env keys but never removes one deleted from the ecosystem file.
pm2 reload ecosystem.config.cjs --update-env
# FLAW: a blind wait instead of asking whether the new workers answer.
sleep 15
# FLAW: passes when any line of the list says online: one instance of two, the old workers after a failed
# reload, or a crash-looping worker caught between two crashes. An app answering 500 is 'online'.
if ! pm2 list | grep "$APP_NAME" | grep -q online; then
  echo "The app is not online, rolling back" >&2
  rm -rf .next
  cp -r .next.backup .next
  # FLAW: the old .next is reloaded with the new code, node_modules and ecosystem file.
  pm2 reload ecosystem.config.cjs --update-env
  exit 1
fi
# FLAW: the backup is deleted before the health check: when the check fails there is nothing to roll back to.
rm -rf .next.backup

phase 6 purge-and-health
# FLAW: no `nginx -t` first, and the reload's exit status is ignored (it does not say whether the new
# configuration was accepted anyway).
rm -rf "${CACHE_PATH:?}"/*
eval "$NGINX_RELOAD"
for attempt in 1 2 3 4 5; do
  if curl -sf -o /dev/null --max-time 5 "$HEALTH_URL"; then
    echo "Deploy finished: healthy on attempt $attempt"
    exit 0
  fi
  echo "Health check attempt $attempt failed" >&2
  sleep 3
done
# FLAW: no rollback is possible any more (the backup is gone): the broken version stays live and the
# outage lasts until a person acts.
echo "Health check failed after 5 attempts" >&2
exit 1
