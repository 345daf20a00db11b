#!/usr/bin/env bash
# A private single-node Slurm cluster in one folder, for the Slurm executor's integration tests and
# for trying the executor on one machine. Needs root and Debian's slurmctld, slurmd, slurm-client
# and munge (scripts/install-deps.sh); no systemd, nothing under /etc is used or changed.
#
#   scripts/slurm-local.sh start DIR [--gpus N] [--cpus N]   DIR must not exist or be empty
#   scripts/slurm-local.sh stop DIR [--remove]               idempotent; --remove deletes DIR
#   scripts/slurm-local.sh status DIR                        exit 0 running, 1 not
#
# Clients use it with `source DIR/env.sh` (sets SLURM_CONF). --gpus N makes N fake GPUs (character
# devices like /dev/null) so that --gres=gpu:K jobs get CUDA_VISIBLE_DEVICES. Ports are random, and
# every daemon is found by its pid file or by the tag SLURM_LOCAL_DIR=DIR in its environment, so
# several clusters can run side by side. Everything (logs too) lies in DIR.
set -euo pipefail

die() { echo "slurm-local: $*" >&2; exit 1; }
usage() { sed -n '6,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -ge 2 ] || usage
cmd="$1" dir="$2"; shift 2
gpus=0 cpus="$(nproc)" remove=0
while [ $# -gt 0 ]; do
  case "$cmd:$1" in
    start:--gpus) gpus="${2:?}"; shift 2 ;;
    start:--cpus) cpus="${2:?}"; shift 2 ;;
    stop:--remove) remove=1; shift ;;
    *) usage ;;
  esac
done
[[ "$gpus" =~ ^[0-9]+$ && "$cpus" =~ ^[1-9][0-9]*$ ]] || die "--gpus and --cpus take whole numbers"
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
[ ! -d "$dir" ] || dir="$(cd "$dir" && pwd -P)"  # without symlinks: the tag must match exactly

# Pids of live processes whose environment carries this cluster's tag: the daemons (and
# slurmctld's slurmscriptd). Not slurmstepd nor the jobs: slurmd starts those with an environment
# of their own.
tagged() {
  local e
  for e in /proc/[0-9]*/environ; do
    grep -qzxF "SLURM_LOCAL_DIR=$dir" "$e" 2>/dev/null && { e="${e#/proc/}"; echo "${e%/environ}"; }
  done
  return 0
}
# The pid in pid file $1 if that process is alive and belongs to this cluster (not a reused pid).
daemon_pid() {
  local p; p="$(cat "$1" 2>/dev/null)" || return 1
  [[ "$p" =~ ^[0-9]+$ ]] && grep -qzxF "SLURM_LOCAL_DIR=$dir" "/proc/$p/environ" 2>/dev/null && echo "$p"
}
# This cluster's slurmstepd processes: slurmd gives them no tag, but their working folder is
# DIR/log and they hold DIR/log/slurmd.log open.
stepds() {
  local c p
  for c in /proc/[0-9]*/comm; do
    [ "$(cat "$c" 2>/dev/null)" = slurmstepd ] || continue
    p="${c#/proc/}"; p="${p%/comm}"
    case "$(readlink "/proc/$p/cwd" "/proc/$p"/fd/* 2>/dev/null)" in *"$dir/"*) echo "$p" ;; esac
  done
  return 0
}
# All descendants of the given pids (a job's processes under its slurmstepd).
descendants() {
  local -A kids=(); local s pid ppid out=() queue=("$@")
  for s in /proc/[0-9]*/stat; do
    s="$(cat "$s" 2>/dev/null)" || continue
    pid="${s%% *}"; read -r _ ppid _ <<<"${s##*) }"   # the name in (...) may hold spaces
    kids[$ppid]+=" $pid"
  done
  while [ ${#queue[@]} -gt 0 ]; do
    pid="${queue[0]}"; queue=("${queue[@]:1}")
    for s in ${kids[$pid]:-}; do out+=("$s"); queue+=("$s"); done
  done
  echo "${out[@]:-}"
}
# Whether pid $1 runs. A zombie counts as gone: where pid 1 does not reap orphans (containers,
# chroots) a stopped daemon stays a zombie for good.
alive() { local s; s="$(cat "/proc/$1/stat" 2>/dev/null)" && [ "$(cut -c1 <<<"${s##*) }")" != Z ]; }
# SIGTERM the pids, wait up to $1 seconds for them to go, then SIGKILL what is left.
terminate() {
  local wait="$1" p left; shift
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i < wait * 10; i++)); do
    left=(); for p in "$@"; do alive "$p" && left+=("$p"); done
    [ ${#left[@]} -eq 0 ] && return 0
    sleep 0.1
  done
  kill -KILL "${left[@]}" 2>/dev/null || true
  sleep 0.2
}

# shellcheck disable=SC2046,SC2086  # pid and job lists are meant to split into words
do_stop() {
  [ -d "$dir" ] || return 0
  if [ -f "$dir/slurm.conf" ] && daemon_pid "$dir/run/slurmctld.pid" >/dev/null; then
    # Cancel every job so that slurmstepd ends them cleanly; give them a few seconds.
    local jobs; jobs="$(SLURM_CONF="$dir/slurm.conf" timeout 10 squeue -h -o %A 2>/dev/null || true)"
    if [ -n "$jobs" ]; then
      SLURM_CONF="$dir/slurm.conf" timeout 10 scancel $jobs 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        [ -z "$(SLURM_CONF="$dir/slurm.conf" timeout 5 squeue -h -t running,completing -o %A 2>/dev/null)" ] && break
        sleep 0.1
      done
    fi
  fi
  # slurmstepd outlives a killed slurmd and keeps the job's processes: end those first, the jobs'
  # processes before their slurmstepd (which would otherwise report them to a slurmd being stopped).
  local steps=() d p
  read -ra steps <<<"$(stepds | tr '\n' ' ')"
  if [ ${#steps[@]} -gt 0 ]; then
    terminate 3 $(descendants "${steps[@]}")
    terminate 1 "${steps[@]}"   # with its jobs gone it may wait on a dead slurmd: do not wait long
  fi
  for d in slurmd slurmctld munged; do
    p="$(daemon_pid "$dir/run/$d.pid")" && terminate 10 "$p"
  done
  # Anything of this cluster still alive (e.g. a daemon whose pid file never got written).
  terminate 3 $(tagged)
  rm -f "$dir"/run/*.pid
}

do_status() {
  local d p down=()
  for d in munged slurmctld slurmd; do p="$(daemon_pid "$dir/run/$d.pid")" || down+=("$d"); done
  [ ${#down[@]} -eq 0 ] && { echo "slurm-local: running in $dir"; return 0; }
  echo "slurm-local: not running in $dir (down: ${down[*]})"; return 1
}

# A TCP port that nothing on this machine listens on or uses (per /proc/net/tcp{,6}), not in $1.
free_port() {
  local port hex
  for ((i = 0; i < 100; i++)); do
    port=$((20000 + RANDOM % 40000)); hex="$(printf ':%04X ' "$port")"
    [ "$port" != "${1:-}" ] && ! grep -q "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null && { echo "$port"; return; }
  done
  die "no free TCP port found"
}

do_start() {
  [ "$(id -u)" -eq 0 ] || die "start needs root (the daemons run as root, without systemd)"
  local t
  for t in munged munge unmunge slurmctld slurmd sbatch squeue sinfo scontrol scancel; do
    command -v "$t" >/dev/null || die "$t not found; run scripts/install-deps.sh"
  done
  if [ -e "$dir" ]; then
    [ -d "$dir" ] && [ -z "$(ls -A "$dir")" ] || die "$dir exists and is not an empty folder; give a new one"
  fi
  mkdir -p "$dir"/{munge,run,log,state,spool,dev}
  dir="$(cd "$dir" && pwd -P)"
  chmod 755 "$dir" "$dir/munge"         # munged refuses a group/other-writable socket folder
  # Whatever ends start early (die, a failing command under set -e) stops what was started.
  trap 'echo "slurm-local: start failed; stopped what was started (logs in $dir/log)" >&2; do_stop' EXIT
  export SLURM_LOCAL_DIR="$dir" SLURM_CONF="$dir/slurm.conf"
  local m="$dir/munge" sock="$dir/munge/munge.socket.2"

  head -c 1024 /dev/urandom >"$m/munge.key" && chmod 400 "$m/munge.key"
  # --force: munged as root in a folder under /tmp fails its paranoid ownership checks otherwise.
  munged --force --origin=127.0.0.1 --socket="$sock" --key-file="$m/munge.key" --pid-file="$dir/run/munged.pid" \
         --log-file="$dir/log/munged.log" --seed-file="$m/munged.seed" ||
    die "munged did not start: $(tail -n 5 "$dir/log/munged.log" 2>/dev/null)"
  for ((i = 0; i < 50; i++)); do munge -n -S "$sock" 2>/dev/null | unmunge -S "$sock" >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n -S "$sock" | unmunge -S "$sock" >/dev/null || die "munged does not answer on $sock"

  local cport dport mem gres=""
  cport="$(free_port)"; dport="$(free_port "$cport")"
  mem=$(( $(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo) * 9 / 10 ))
  if [ "$gpus" -gt 0 ]; then
    for ((k = 0; k < gpus; k++)); do mknod "$dir/dev/nvidia$k" c 1 3; done  # like /dev/null
    gres=" Gres=gpu:$gpus"
    echo "NodeName=localhost Name=gpu File=$dir/dev/nvidia[0-$((gpus - 1))]" >"$dir/gres.conf"
  fi
  cat >"$dir/slurm.conf" <<EOF
# Written by scripts/slurm-local.sh: a private single-node cluster, all of it in $dir.
ClusterName=contraseg-local
# Addresses given: a minimal root (mmdebstrap minbase) has no /etc/hosts to resolve localhost.
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$cport
SlurmdPort=$dport
# socket: this cluster's own munged. cred_expire: a requeued job waits this long (default 120 s).
AuthInfo=socket=$sock,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
MailProg=/bin/true
# No cgroups: works in containers and chroots.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
# Run the main scheduler every second (default 60 s; backfill skips time-only changes), so a job
# that becomes eligible by time alone (a requeued one) starts within a second, not a minute later.
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,sched_interval=1
# Cancel jobs whose dependency can never be met (e.g. afterok on a failed job) instead of leaving
# them pending forever. It belongs here: under SchedulerParameters it is ignored.
DependencyParameters=kill_invalid_depend
JobRequeue=1
ReturnToService=2
# Keep finished jobs visible to scontrol/squeue for 10 minutes (there is no accounting for sacct).
MinJobAge=600
# The node as configured here even where it is more than the machine has (--cpus 8 on 2 cores).
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem$gres State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  # slurmd 22.05 loads a cgroup plugin even with proctrack/linuxproc and task/none, and its
  # "autodetect" fails where nothing is mounted on /sys/fs/cgroup (a chroot with a bare /sys):
  # naming cgroup/v1 there loads the plugin without looking.
  case "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" in
    cgroup2fs | tmpfs) ;;
    *) echo "CgroupPlugin=cgroup/v1" >"$dir/cgroup.conf" ;;
  esac
  echo "export SLURM_CONF=$dir/slurm.conf" >"$dir/env.sh"

  # -c: clean start, no state to recover. The node is called localhost whatever the host name is,
  # hence slurmd -N localhost. Both fork into the background and write their pid files.
  slurmctld -c -f "$dir/slurm.conf" || die "slurmctld did not start: $(tail -n 5 "$dir/log/slurmctld.log" 2>&1)"
  slurmd -N localhost -f "$dir/slurm.conf" || die "slurmd did not start: $(tail -n 5 "$dir/log/slurmd.log" 2>&1)"
  local state="" deadline=$((SECONDS + 30))
  while [ "$SECONDS" -lt "$deadline" ]; do
    state="$(timeout 5 sinfo -h -n localhost -o %T 2>/dev/null || true)"
    [ "$state" = idle ] && break
    sleep 0.1
  done
  if [ "$state" != idle ]; then
    for t in munged slurmctld slurmd; do echo "--- $dir/log/$t.log" >&2; tail -n 15 "$dir/log/$t.log" >&2 2>/dev/null || true; done
    die "the node did not become idle in 30 s (state '${state:-no answer}')"
  fi
  trap - EXIT
  echo "slurm-local: cluster up in $dir ($cpus CPUs, $gpus GPUs): 'source $dir/env.sh' to use it; '$0 stop $dir' to stop it"
}

case "$cmd" in
  start) do_start ;;
  stop) do_stop; [ "$remove" -eq 0 ] || rm -rf --one-file-system "$dir"; echo "slurm-local: stopped $dir" ;;
  status) do_status ;;
  *) usage ;;
esac
