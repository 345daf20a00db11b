#!/usr/bin/env bash
# Runs a command in a fresh, minimal Debian 12 root (mmdebstrap --variant=minbase: no compiler, no
# CMake, no CUDA) holding a clean clone of this repository's HEAD. Nothing installed by hand on
# this machine is visible there, so it shows what a new user's machine meets.
#
#   scripts/fresh-root.sh [--install "PKG ..."] [--copy DIR]... [--bind DIR]... [--out DIR]
#                         [--log FILE] [TARGET | -- COMMAND...]
#
#   TARGET             a make target (default: test); runs `make TARGET` in the clone
#   -- COMMAND...      any command instead, run by bash in the clone's root folder
#   --install "PKGS"   Debian packages installed in the root before the command (default: make)
#   --copy DIR         also copy this folder of the checkout (e.g. an ignored deps/ folder) into
#                      the clone; repeatable
#   --bind DIR         an absolute folder of this machine seen read-only at the same path inside
#                      the root (e.g. /usr/local/cuda, as a GPU machine's image has it); repeatable
#   --out DIR          a folder of this machine, seen as /out inside the root (for results)
#   --log FILE         the whole log (default: /tmp/contraseg-fresh-root/<sha>.log)
#
# Needs root (chroot, mounts) and Debian's package registry. The base image is cached as a
# tarball in $CONTRASEG_ROOT_CACHE (default /var/tmp/contraseg-fresh-root); each run unpacks a
# new root and removes it afterwards. Prints the end of the log; exits with the command's status,
# or 3 when no root could be made (not root, no mmdebstrap, no registry), so that callers can
# tell "failed" from "could not try".
set -uo pipefail

install="make"
copies=()
binds=()
out=""
log=""
cmd=()
while [ $# -gt 0 ]; do
  case "$1" in
    --install) install="$2"; shift 2 ;;
    --copy) copies+=("$2"); shift 2 ;;
    --bind) binds+=("$2"); shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --log) log="$2"; shift 2 ;;
    --) shift; cmd=("$@"); break ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fresh-root: unknown option $1" >&2; exit 2 ;;
    *) cmd=(make "$1"); shift ;;
  esac
done
[ ${#cmd[@]} -gt 0 ] || cmd=(make test)

cannot() { echo "fresh-root: CANNOT MAKE A FRESH ROOT: $*" >&2; exit 3; }

[ "$(id -u)" -eq 0 ] || cannot "needs root (chroot and mounts)"
top="$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null)" || cannot "not inside a git checkout"
sha="$(git -C "$top" rev-parse --short HEAD)"
[ -z "$(git -C "$top" status --porcelain --untracked-files=no)" ] ||
  echo "fresh-root: note: uncommitted changes are not part of the run (it clones HEAD)"

if ! command -v mmdebstrap >/dev/null; then
  echo "fresh-root: installing mmdebstrap"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap; } \
    >/dev/null 2>&1 || cannot "mmdebstrap is not installed and could not be installed"
fi

cache="${CONTRASEG_ROOT_CACHE:-/var/tmp/contraseg-fresh-root}"
mkdir -p "$cache" /tmp/contraseg-fresh-root || cannot "cannot create $cache"
tarball="$cache/bookworm-minbase.tar"
if [ ! -s "$tarball" ]; then
  echo "fresh-root: making a minimal Debian 12 base (mmdebstrap, once; cached in $tarball)"
  mmdebstrap --variant=minbase --format=tar bookworm "$tarball.part" >"$cache/mmdebstrap.log" 2>&1 ||
    { rm -f "$tarball.part"; cannot "mmdebstrap failed (log $cache/mmdebstrap.log)"; }
  mv "$tarball.part" "$tarball"
fi

root="$(mktemp -d /tmp/contraseg-fresh-root/root.XXXXXX)" || cannot "mktemp failed"
log="${log:-/tmp/contraseg-fresh-root/$sha.log}"
mounts=(out dev proc sys)
for d in "${binds[@]+"${binds[@]}"}"; do
  case "$d" in /*) ;; *) echo "fresh-root: --bind $d: give an absolute folder" >&2; exit 2 ;; esac
  [ -d "$d" ] || { echo "fresh-root: --bind $d: no such folder" >&2; exit 2; }
  mounts=("${d#/}" "${mounts[@]}")
done
cleanup() {
  local m
  for m in "${mounts[@]}"; do
    mountpoint -q "$root/$m" 2>/dev/null && umount "$root/$m"
  done
  for m in "${mounts[@]}"; do  # never delete through a mount that is still there
    if mountpoint -q "$root/$m" 2>/dev/null; then echo "fresh-root: $root/$m still mounted; left $root" >&2; return; fi
  done
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT
tar -xf "$tarball" -C "$root" || cannot "cannot unpack $tarball"
cp /etc/resolv.conf "$root/etc/" 2>/dev/null
git clone -q "$top" "$root/src" || cannot "git clone failed"
for d in "${copies[@]+"${copies[@]}"}"; do
  [ -d "$top/$d" ] || { echo "fresh-root: --copy $d: no such folder in $top" >&2; exit 2; }
  mkdir -p "$root/src/$(dirname "$d")" && cp -a "$top/$d" "$root/src/$d"
done
# /sys too: slurmd (scripts/slurm-local.sh) reads the machine's topology there.
mount -t proc proc "$root/proc" && mount -t sysfs sysfs "$root/sys" && mount --bind /dev "$root/dev" ||
  cannot "mounting /proc, /sys and /dev failed"
for d in "${binds[@]+"${binds[@]}"}"; do
  { mkdir -p "$root$d" && mount --bind "$d" "$root$d" && mount -o remount,bind,ro "$root$d"; } ||
    cannot "cannot mount $d read-only in the root"
done
if [ -n "$out" ]; then
  mkdir -p "$out" "$root/out" && mount --bind "$out" "$root/out" || cannot "cannot mount $out at /out"
fi

printf -v quoted '%q ' "${cmd[@]}"
echo "fresh-root: Debian 12 minbase + ${install}; running '${cmd[*]}' on a clone of $sha (log $log)"
SECONDS=0
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  bash -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $install >/dev/null \
           || { echo 'fresh-root: installing $install failed'; exit 100; }; cd /src && $quoted" >"$log" 2>&1
rc=$?
if [ "$rc" -eq 100 ] && grep -q "^fresh-root: installing" "$log"; then
  tail -n 20 "$log"
  cannot "the base packages could not be installed (no package registry?)"
fi
tail -n 30 "$log"
echo "fresh-root: '${cmd[*]}' in a fresh Debian 12 root exited $rc after ${SECONDS}s (log $log)"
exit "$rc"
