#!/usr/bin/env bash
# Restarts one process of this checkout's running stack (STACK_DIR, STACK_PORT_OFFSET), exactly as
# up.sh started it (test/stack/procs.sh), and waits until it serves again. Used by the reliability
# suite (kube-apiserver or Temporal restarted mid-run). Only the pid recorded in $STACK_DIR/pids is
# stopped, and only if it still runs what the stack started.
#
# Usage: test/stack/restart.sh <process> [--kill] [--down-seconds N]
#   <process>         one of: etcd temporal kube-apiserver kube-controller-manager kube-scheduler kwok log-writer
#   --kill            SIGKILL instead of SIGTERM (a crash rather than a shutdown)
#   --down-seconds N  stay down N seconds before starting again (default 0)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/procs.sh"

name=${1:-}
[ -n "$name" ] || die "usage: restart.sh <process> [--kill] [--down-seconds N]"
shift
signal=TERM down=0
while [ $# -gt 0 ]; do
  case $1 in
    --kill) signal=KILL ;;
    --down-seconds) down=$2; shift ;;
    *) die "unknown option $1" ;;
  esac
  shift
done
case " $STACK_PROCS " in *" $name "*) ;; *) die "unknown stack process '$name' (one of: $STACK_PROCS)" ;; esac
[ -f "$ENV_FILE" ] || die "the stack is not up ($ENV_FILE missing)"

pid=$(recorded_pid "$name")
pid_is_ours "$pid" "$name" || die "$name is not running (no live pid recorded in $PIDS_DIR/$name)"
T0=$(date +%s%N)
kill -"$signal" "$pid"
deadline=$(( $(date +%s) + 15 ))
while pid_is_ours "$pid" "$name" && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.05; done
if pid_is_ours "$pid" "$name"; then kill -KILL "$pid"; while pid_is_ours "$pid" "$name"; do sleep 0.05; done; fi
[ "$down" = 0 ] || sleep "$down"

start_proc "$name"
deadline=$(( $(date +%s) + 90 ))
until proc_ready "$name" >/dev/null 2>&1; do
  pid_is_ours "$(recorded_pid "$name")" "$name" || { tail -n 20 "$PROC_LOGS_DIR/$name.log" >&2; die "$name exited after the restart"; }
  [ "$(date +%s)" -lt "$deadline" ] || die "$name did not become ready within 90 s of the restart"
  sleep 0.1
done
log "$name restarted (SIG$signal, pid $pid -> $(recorded_pid "$name")), serving again after $(( ($(date +%s%N) - T0) / 1000000 )) ms"
