#!/usr/bin/env bash
# Downloads, into deps/gpu-bundle/ (ignored by git), every Debian 12 package the build needs on a
# machine that has only a compiler, CMake and CUDA (a GPU machine's image is not Debian and holds
# none of Debian's -dev packages): the libraries of scripts/install-deps.sh --list and all they
# depend on, plus the runtime packages that their absolute symlinks point into (zlib1g-dev's
# libz.so -> /lib/x86_64-linux-gnu/libz.so.1.2.13, say), which scripts/gpu-check.sh re-points into
# its unpack folder. Writes PACKAGES (one name a line) and SHA256SUMS beside the .deb files, by
# which gpu-check.sh tells a complete bundle from a partial copy.
#
#   scripts/gpu-bundle.sh [DIR]          (as root, on a machine that reaches Debian's registry)
#
# The bundle folder is ignored by git: copy it along with the tree explicitly (README, "GPU").
# The set is exact: apt resolves it in a fresh Debian 12 root (scripts/fresh-root.sh) holding
# only build-essential and cmake, and downloads without installing. About 25 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-deps/gpu-bundle}"
pkgs="$(bash scripts/install-deps.sh --list)"
tmp="$(mktemp -d /tmp/contraseg-gpu-bundle.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

# Runs inside the fresh root, with this folder as /out.
cat >"$tmp/collect.sh" <<'INNER'
set -euo pipefail
apt-get clean
apt-get install -y -qq --download-only --no-install-recommends "$@"
cp /var/cache/apt/archives/*.deb /out/
# Packages that absolute symlinks of the bundle point into, until none is missing. The C and C++
# runtimes are left out: every machine has its own, and a second copy must never be loaded.
base=" libc6 libgcc-s1 libstdc++6 "
for round in 1 2 3; do
  rm -rf /tmp/unpacked && mkdir /tmp/unpacked
  for d in /out/*.deb; do dpkg -x "$d" /tmp/unpacked; done
  owners=()
  while IFS= read -r link; do
    target="$(readlink "$link")"
    [ -e "/tmp/unpacked$target" ] && continue
    owner="$(dpkg -S "$target" 2>/dev/null || dpkg -S "$(readlink -f "$target")" 2>/dev/null || true)"
    owner="${owner%%:*}"
    [ -n "$owner" ] || { echo "gpu-bundle: no package owns $target (link $link)" >&2; exit 1; }
    case "$base" in *" $owner "*) continue ;; esac
    owners+=("$owner")
  done < <(find /tmp/unpacked -type l -lname '/*')
  [ ${#owners[@]} -gt 0 ] || exit 0
  mapfile -t owners < <(printf '%s\n' "${owners[@]}" | sort -u)
  echo "gpu-bundle: runtime packages for absolute links: ${owners[*]}"
  (cd /out && for o in "${owners[@]}"; do apt-get download -qq "$o=$(dpkg-query -W -f='${Version}' "$o")"; done)
done
echo "gpu-bundle: absolute links still unresolved after 3 rounds" >&2
exit 1
INNER

bash scripts/fresh-root.sh --install "build-essential cmake" --out "$tmp" --log "$tmp.log" -- \
  bash /out/collect.sh $pkgs

mkdir -p "$dest"
rm -f "$dest"/*.deb "$dest/PACKAGES" "$dest/SHA256SUMS"
cp "$tmp"/*.deb "$dest"/
(cd "$dest" && ls *.deb | sed 's|_.*||' >PACKAGES && sha256sum *.deb >SHA256SUMS)
echo "gpu-bundle: $(wc -l <"$dest/PACKAGES") packages, $(du -sh "$dest" | cut -f1) in $dest:"
tr '\n' ' ' <"$dest/PACKAGES"; echo
