#!/usr/bin/env bash
# Downloads, into deps/gpu-bundle/ (ignored by git), every Debian 12 package the build needs on a
# machine that has only a compiler and CMake: the libraries of scripts/install-deps.sh --list and
# all they depend on. A GPU machine without network access then builds with
#   scripts/gpu-check.sh        (it finds deps/gpu-bundle and unpacks it with dpkg -x, never into /)
#
#   scripts/gpu-bundle.sh [DIR]          (as root, on a machine that reaches Debian's registry)
#
# The set is exact: apt resolves it in a fresh Debian 12 root (scripts/fresh-root.sh) holding
# only build-essential and cmake, and downloads without installing. About 25 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-deps/gpu-bundle}"
pkgs="$(bash scripts/install-deps.sh --list)"
tmp="$(mktemp -d /tmp/contraseg-gpu-bundle.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

bash scripts/fresh-root.sh --install "build-essential cmake" --out "$tmp" --log "$tmp.log" -- \
  bash -c "apt-get clean && apt-get install -y -qq --download-only --no-install-recommends $pkgs && cp /var/cache/apt/archives/*.deb /out/"

mkdir -p "$dest"
rm -f "$dest"/*.deb
cp "$tmp"/*.deb "$dest"/
ls "$dest"/*.deb | sed 's|.*/||; s|_.*||' >"$dest/PACKAGES"
echo "gpu-bundle: $(ls "$dest"/*.deb | wc -l) packages, $(du -sh "$dest" | cut -f1) in $dest:"
tr '\n' ' ' <"$dest/PACKAGES"; echo
