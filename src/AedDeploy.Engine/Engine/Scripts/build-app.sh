# Generates the Prisma client when the app has a schema, then runs the build: build-app.sh <folder> <build command>
# With an empty build command only the Prisma client is generated: a fleet host that receives a shipped build
# (receive-release.sh) needs the client in its own node_modules, but not a build of its own.
# Exit 14: prisma generate failed; otherwise the build command's status (0 without one). It answers nothing but
# its exit code, so what next build (and the app's next.config) prints stays plain log output.
set -uo pipefail
folder=$1 command=${2:-}
cd "$folder" || exit 1
if [ -f prisma/schema.prisma ] || [ -d prisma/schema ]; then
  echo "prisma generate"
  npx --no-install prisma generate || exit 14
fi
[ -n "$command" ] || exit 0
echo "$command"
bash -c "$command"
