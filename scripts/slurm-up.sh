#!/usr/bin/env bash
# Bring up a real single-node SLURM cluster on this machine, for trying (and testing) the
# workflow's SLURM profile: munge + slurmctld + slurmd, one partition "debug", and one fake
# GPU (gres with File=/dev/null) so that jobs asking for --gpus=1 are scheduled.
#
#   sudo scripts/slurm-up.sh [STATE_DIR]      # ~10 s once the packages are installed
#   sbatch --wrap hostname; squeue; sinfo     # use it
#   sudo scripts/slurm-down.sh [STATE_DIR]    # stop exactly the daemons started here
#
# Debian 12 (Slurm 22.05, munge 0.5), as root, no systemd needed: every daemon runs in the
# foreground (-D / -F) in the background of this script, and its PID goes to STATE_DIR/<name>.pid
# (logs: STATE_DIR/*.log, *.out). STATE_DIR defaults to ${TMPDIR:-/tmp}/sirenpipe-slurm.
#
# Settings (environment):
#   WITH_SLURMDBD=1   also start mariadb + slurmdbd, so that accounting (sacct) works
#   MIN_JOB_AGE=300   seconds a finished job stays visible to squeue/scontrol; must be at least
#                     3x the profile's slurm-init-seconds-before-status-checks, or the
#                     executor plugin stops trusting squeue (see profiles/slurm/config.yaml)
# Without slurmdbd, `sacct` exists but fails: the profile uses `squeue` for job status.
set -euo pipefail
STATE=${1:-${TMPDIR:-/tmp}/sirenpipe-slurm}
WITH_SLURMDBD=${WITH_SLURMDBD:-0}
MIN_JOB_AGE=${MIN_JOB_AGE:-300}
export DEBIAN_FRONTEND=noninteractive

[ "$(id -u)" = 0 ] || { echo "slurm-up.sh: run as root (it writes /etc/slurm and starts daemons)" >&2; exit 2; }
running() { # PIDs of live (non-zombie) processes named $1
  for pid in $(pgrep -x "$1"); do case "$(ps -o stat= -p "$pid")" in "" | Z*) ;; *) echo "$pid" ;; esac; done
}
for d in slurmctld slurmd; do
  if [ -n "$(running "$d")" ]; then
    echo "slurm-up.sh: a $d is already running (pid $(running "$d" | tr '\n' ' ')); not starting a second cluster." >&2
    echo "             stop it first (scripts/slurm-down.sh STATE_DIR for one started by this script)." >&2
    exit 3
  fi
done
mkdir -p "$STATE"
rm -f "$STATE"/*.pid

start() { # start NAME CMD...: run a foreground daemon in the background, record its PID
  local name=$1; shift
  "$@" >"$STATE/$name.out" 2>&1 &
  echo $! >"$STATE/$name.pid"
}

# 1. Debian packages (only those missing; bookworm: slurm-wlm 22.05.8, munge 0.5.15)
PKGS="slurmctld slurmd slurm-client munge"
[ "$WITH_SLURMDBD" = 1 ] && PKGS="$PKGS slurmdbd mariadb-server"
missing=$(for p in $PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"; done)
if [ -n "$missing" ]; then
  echo "== installing Debian packages:" $missing
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# 2. munge: the authentication every slurm daemon and client uses (the package creates the key)
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
fi
install -d -o munge -g munge -m 755 /run/munge
start munged setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F
for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
munge -n | unmunge >/dev/null

HOST=$(hostname -s)
NODELINE=$(slurmd -C | head -1)   # "NodeName=<host> CPUs=.. Boards=.. ... RealMemory=.." (this machine)

# 3. optional accounting: mariadb + slurmdbd (makes sacct work)
if [ "$WITH_SLURMDBD" = 1 ]; then
  install -d -o mysql -g root -m 755 /run/mysqld
  start mariadbd setpriv --reuid=mysql --regid=mysql --init-groups /usr/sbin/mariadbd
  for _ in $(seq 100); do mariadb -e 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done
  mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
              GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
  cat >/etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
LogFile=$STATE/slurmdbd.log
PidFile=/run/slurmdbd.pid
EOF
  chmod 600 /etc/slurm/slurmdbd.conf
  start slurmdbd /usr/sbin/slurmdbd -D
  for _ in $(seq 50); do sacctmgr -n show cluster >/dev/null 2>&1 && break; sleep 0.2; done
  ACCT="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
JobAcctGatherType=jobacct_gather/linux"
else
  # NB: AccountingStorageTRES=gres/gpu is fatal without slurmdbd
  ACCT="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
fi

# 4. slurm.conf: one node (this machine, as slurmd -C sees it) with one GPU, one partition
cat >/etc/slurm/slurm.conf <<EOF
ClusterName=sirenpipe
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
# no cgroups/systemd here: track processes by parent PID, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# schedule cores and memory (and GPUs) as consumable resources
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ReturnToService=2
# how long finished jobs stay visible to squeue/scontrol (the profile's job status source)
MinJobAge=$MIN_JOB_AGE
JobCompType=jobcomp/none
$ACCT
GresTypes=gpu
$NODELINE Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
# the fake GPU: Slurm 22.05 drops a GPU without a File= (the node then drains as INVAL)
echo "NodeName=$HOST Name=gpu File=/dev/null" >/etc/slurm/gres.conf

# 5. slurm daemons, from a clean state (no jobs left over from an earlier cluster)
mkdir -p /var/lib/slurm/slurmctld /var/lib/slurm/slurmd
rm -rf /var/lib/slurm/slurmctld/* /var/lib/slurm/slurmd/*
start slurmctld /usr/sbin/slurmctld -D
start slurmd /usr/sbin/slurmd -D

# 6. wait until the node is idle (1-2 s); fail fast, with the logs, if a daemon died
for _ in $(seq 60); do
  for f in "$STATE"/*.pid; do
    kill -0 "$(cat "$f")" 2>/dev/null || { echo "$(basename "$f" .pid) died:" >&2; tail -n 20 "${f%.pid}".* >&2; exit 1; }
  done
  [ "$(timeout 5 sinfo -h -N -o %T 2>/dev/null)" = idle ] && break
  sleep 0.5
done
sinfo -N -o "%N %P %T %c %m %G"
[ "$(sinfo -h -N -o %T)" = idle ] || { tail -n 30 "$STATE"/*.log >&2; exit 1; }
echo "== SLURM is up (state, PIDs and logs in $STATE); stop it with scripts/slurm-down.sh $STATE"
