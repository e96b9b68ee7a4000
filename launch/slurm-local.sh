#!/usr/bin/env bash
# slurm-local.sh start|stop|status|env [STATE_DIR] — a real one-node Slurm on
# this machine, for trying launch/crate.sbatch and for tests/test_slurm.sh.
#
#   start   installs munge and Slurm from Debian if they are missing, writes
#           STATE_DIR/slurm.conf, starts munged (as user munge, unless one is
#           already answering), slurmctld and slurmd (as root), waits until
#           the node is idle and prints the line clients need:
#               eval "$(launch/slurm-local.sh start /tmp/slurm)"
#   stop    cancels the cluster's jobs, then stops exactly the daemons that
#           `start` started, by the PIDs in STATE_DIR/*.pid
#   status  says which of them run and shows sinfo; exits 1 if one is down
#   env     prints `export SLURM_CONF=STATE_DIR/slurm.conf`
#
# STATE_DIR (default /tmp/crate-slurm) holds everything: config, pid files,
# logs, slurmctld's state and slurmd's spool. Nothing under /etc is changed,
# so clients find the cluster only through SLURM_CONF. Progress goes to
# stderr, the export line to stdout. Settings come from shared/SLURM_NOTES.md:
# both daemons run as root, proctrack/linuxproc, no accounting, MpiDefault=pmix,
# requeued jobs restart after 5 s (cred_expire) instead of 120 s.
# Environment: CRATE_SLURM_CPUS (default 4) CPUs the node advertises, so that
# 2-4 single-threaded ranks fit on 2 cores.
set -euo pipefail

PACKAGES=(munge slurm-wlm slurmctld slurmd slurm-client)

# usage STATUS: the header above, on stdout for --help, else on stderr.
usage() {
  if [ "$1" -eq 0 ]; then
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
  else
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2
  fi
  exit "$1"
}

log() { echo "slurm-local: $*" >&2; }
die() {
  log "$*"
  exit 1
}

# install_packages: apt-get only for what is missing, so a second start
# needs no network and does not touch dpkg's lock.
install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "needs root to install ${missing[*]} and to run slurmd"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq -o DPkg::Lock::Timeout=600
  # The package scripts print "policy-rc.d denied execution of start": there
  # is no init system here, which is why this script starts the daemons.
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null 2>&1 \
    || die "apt-get install ${missing[*]} failed"
}

# pid_alive PIDFILE NAME: true if PIDFILE names a live (not zombie) process
# whose command is NAME. The name check keeps a reused PID from being taken
# for our daemon; zombies count as gone because PID 1 here reaps late.
pid_alive() {
  local pidfile=$1 name=$2 pid state
  [ -s "$pidfile" ] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
  state=$(sed 's/^.*) \(.\).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != Z ]
}

# port_busy PORT: something listens on 127.0.0.1:PORT.
port_busy() { (: </dev/tcp/127.0.0.1/"$1") 2>/dev/null; }

# free_port FROM: the first port pair FROM, FROM+2, ... whose ports are both
# free. A cluster left running by a killed test keeps 6817/6818; a new one
# then takes the next ports instead of failing to bind.
free_port() {
  local p=$1
  while port_busy "$p" || port_busy $((p + 1)); do
    p=$((p + 2))
    [ "$p" -lt 7000 ] || die "no free port pair between $1 and 7000"
  done
  echo "$p"
}

# write_conf: a one-node cluster whose node is this host, reached on loopback.
# The topology comes from `slurmd -C` except the CPU count, which is raised
# (with config_overrides) so several single-threaded ranks fit on 2 cores.
write_conf() {
  local host cpus port
  host=$(hostname -s)
  cpus=${CRATE_SLURM_CPUS:-4}
  [ "$cpus" -ge "$(nproc)" ] || cpus=$(nproc)
  port=$(free_port 6817)
  mkdir -p "$dir/ctld" "$dir/spool"
  cat >"$conf" <<EOF
# Written by launch/slurm-local.sh; rewritten on every start.
ClusterName=crate
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# Requeued jobs wait cred_expire seconds before they start again (default 120).
AuthInfo=cred_expire=5
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=pmix
MailProg=/bin/true
ReturnToService=2
JobRequeue=1
# Finished jobs stay visible to scontrol for 10 minutes (there is no sacct).
MinJobAge=600
KillWait=30
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

# start_munge: uses a munged that already answers (it is not ours to stop);
# otherwise starts one as user munge and copies its PID into our pid file.
start_munge() {
  if pid_alive "$dir/munged.pid" munged; then return 0; fi
  rm -f "$dir/munged.pid"
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "using the munged that is already running"
    return 0
  fi
  [ -s /etc/munge/munge.key ] || die "/etc/munge/munge.key is missing (reinstall the munge package)"
  install -d -o munge -g munge -m 0755 /run/munge
  # --force: a munged killed earlier can leave its socket behind.
  runuser -u munge -- /usr/sbin/munged --force || die "munged did not start (see /var/log/munge/munged.log)"
  cp /run/munge/munged.pid "$dir/munged.pid"
  munge -n | unmunge >/dev/null || die "munged runs but munge -n | unmunge fails"
}

# start_slurm: slurmctld, then slurmd, each unless it already runs from this
# STATE_DIR. Both daemonise and write their own pid files.
start_slurm() {
  local host
  host=$(hostname -s)
  if ! pid_alive "$dir/slurmctld.pid" slurmctld; then
    rm -f "$dir/slurmctld.pid"
    /usr/sbin/slurmctld -f "$conf" || die "slurmctld did not start (see $dir/slurmctld.log)"
  fi
  if ! pid_alive "$dir/slurmd.pid" slurmd; then
    rm -f "$dir/slurmd.pid"
    /usr/sbin/slurmd -f "$conf" -N "$host" || die "slurmd did not start (see $dir/slurmd.log)"
  fi
}

# wait_idle SECONDS: until the node reports idle (or mixed/allocated, when
# jobs recovered from an earlier run are already on it).
wait_idle() {
  local deadline=$((SECONDS + $1)) state=""
  while [ $SECONDS -lt $deadline ]; do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -1) || true
    case $state in
      idle | mix | alloc) return 0 ;;
    esac
    sleep 0.25
  done
  die "the node is not idle after $1 s (state '${state:-no answer}'); see $dir/slurmctld.log and $dir/slurmd.log"
}

cmd_start() {
  local t0=$SECONDS
  install_packages
  # Already running from this STATE_DIR: starting again changes nothing.
  if pid_alive "$dir/slurmctld.pid" slurmctld && pid_alive "$dir/slurmd.pid" slurmd; then
    log "already running from $dir"
  else
    # A daemon that survived alone (the other was killed) is stopped so the
    # pair starts from one fresh config; stale pid files are dropped.
    stop_daemon slurmd
    stop_daemon slurmctld
    write_conf
    start_munge
    start_slurm
  fi
  wait_idle 60
  log "cluster up in $((SECONDS - t0)) s: $(sinfo -h -o '%P %D node(s) %c CPUs %t')"
  cmd_env
}

# stop_daemon NAME: TERM, then KILL after 10 s, of the PID in NAME.pid.
stop_daemon() {
  local name=$1 pidfile=$dir/$1.pid pid i
  if ! pid_alive "$pidfile" "$name"; then
    rm -f "$pidfile"
    return 0
  fi
  pid=$(<"$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do
    pid_alive "$pidfile" "$name" || break
    sleep 0.25
  done
  if pid_alive "$pidfile" "$name"; then
    log "$name ($pid) ignored SIGTERM for 10 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  log "stopped $name ($pid)"
}

# cancel_jobs: so that no job step outlives its slurmd. Waits up to 40 s
# (KillWait is 30 s) for the jobs to leave the queue.
cancel_jobs() {
  local i
  pid_alive "$dir/slurmctld.pid" slurmctld || return 0
  [ -n "$(squeue -h -o %i 2>/dev/null)" ] || return 0
  local jobs
  jobs=$(squeue -h -o %i | tr '\n' ' ')
  log "cancelling the jobs still queued: $jobs"
  # shellcheck disable=SC2086 # one argument per job ID
  scancel $jobs 2>/dev/null || true
  for ((i = 0; i < 160; i++)); do
    [ -n "$(squeue -h -o %i 2>/dev/null)" ] || return 0
    sleep 0.25
  done
  log "jobs still queued after 40 s: $(squeue -h -o '%i %T' | tr '\n' ' ')"
}

cmd_stop() {
  [ -d "$dir" ] || return 0
  cancel_jobs
  stop_daemon slurmd
  stop_daemon slurmctld
  stop_daemon munged
}

cmd_status() {
  local name ok=0
  for name in munged slurmctld slurmd; do
    if pid_alive "$dir/$name.pid" "$name"; then
      echo "$name: running, pid $(<"$dir/$name.pid")"
    elif [ $name = munged ] && munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
      echo "munged: running (not started by this script)"
    else
      echo "$name: not running"
      ok=1
    fi
  done
  if [ $ok -eq 0 ]; then
    sinfo
    squeue
  fi
  return $ok
}

cmd_env() { echo "export SLURM_CONF=$conf"; }

case ${1:-} in
  -h | --help) usage 0 ;;
  start | stop | status | env) ;;
  *) usage 2 ;;
esac
[ $# -le 2 ] || usage 2
dir=${2:-/tmp/crate-slurm}
if [ "$1" = start ]; then
  mkdir -p "$dir" || die "cannot create $dir"
fi
# An absolute path: the daemons chdir, and SLURM_CONF must work from anywhere.
[ ! -d "$dir" ] || dir=$(cd "$dir" && pwd)
[[ $dir = /* ]] || dir=$PWD/$dir
conf=$dir/slurm.conf
export SLURM_CONF=$conf
"cmd_$1"
