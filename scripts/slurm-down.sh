#!/usr/bin/env bash
# Stop the SLURM cluster that scripts/slurm-up.sh started: cancel the jobs still queued, then
# stop each daemon by the PID recorded in STATE_DIR/<name>.pid (never by name, so that
# nothing else on the machine is touched). Idempotent.
#
#   sudo scripts/slurm-down.sh [STATE_DIR]    # default ${TMPDIR:-/tmp}/sirenpipe-slurm
STATE=${1:-${TMPDIR:-/tmp}/sirenpipe-slurm}

alive() { # a zombie counts as gone
  case "$(ps -o stat= -p "$1" 2>/dev/null)" in "" | Z*) return 1 ;; esac
}

if [ -f "$STATE/slurmctld.pid" ] && alive "$(cat "$STATE/slurmctld.pid")"; then
  timeout 10 scancel --user="$(id -un)" 2>/dev/null || true
fi
# compute node first, then the controller, accounting, and munge last (they all use it)
for d in slurmd slurmctld slurmdbd mariadbd munged; do
  f="$STATE/$d.pid"
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done   # up to 10 s
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    echo "stopped $d (pid $pid)"
  fi
  rm -f "$f"
done
