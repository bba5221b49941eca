#!/usr/bin/env bash
# Stops the local stack: exactly the processes up.sh recorded in $STACK_DIR/pids (TERM, then KILL
# after a bounded wait), then removes the stack's state (etcd data, Temporal DB, PKI, kubeconfig,
# pod logs, env). Keeps $STACK_DIR/logs/ (process logs of the last run) for post-mortems; the next
# up truncates them. Safe to run when nothing is up.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -z "${STACK_DOWN_LOCKED:-}" ]; then
  mkdir -p "$CACHE_ROOT"
  exec 9>"$LOCK_FILE"
  flock -w 600 9 || die "timed out waiting for another stack:up/down"
fi

stopped=""
pids=()
# Reverse start order: kwok and the controllers first, etcd last.
for name in $(echo "$STACK_PROCS" | tr ' ' '\n' | tac); do
  pid=$(recorded_pid "$name")
  [ -n "$pid" ] || continue
  if pid_is_ours "$pid" "$name"; then
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid:$name")
  fi
done

# Bounded wait (15 s) for them to exit, then KILL what is left.
deadline=$(( $(date +%s) + 15 ))
for entry in ${pids[@]+"${pids[@]}"}; do
  pid=${entry%%:*} name=${entry#*:}
  while pid_is_ours "$pid" "$name" && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
  if pid_is_ours "$pid" "$name"; then
    log "$name (pid $pid) did not stop after TERM; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  stopped="$stopped $name"
done

rm -rf "$PIDS_DIR" "$ENV_FILE" "$STACK_DIR/config-hash" "$PKI_DIR" "$DATA_DIR" "$POD_LOGS_DIR" "$KWOK_WORKDIR_PATH" "$ADMIN_KUBECONFIG"
if [ -n "$stopped" ]; then log "stopped:$stopped; state removed (process logs kept in $PROC_LOGS_DIR)"; else log "nothing running; state removed"; fi
