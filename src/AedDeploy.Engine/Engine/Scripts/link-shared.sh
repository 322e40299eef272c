# Links every entry of shared/ into a release (replacing what the checkout has there): link-shared.sh <root> <id>
set -euo pipefail
root=$1 id=$2
release="$root/releases/$id"
[ -d "$root/shared" ] || exit 0
shopt -s dotglob nullglob
for entry in "$root/shared"/*; do
  name=${entry##*/}
  rm -rf -- "$release/${name:?}"
  ln -s -- "$entry" "$release/$name"
  printf 'linked %s\n' "$name"
done
