#!/usr/bin/env bash
# Restarts this stack's kube-apiserver (the process recorded in $STACK_DIR/pids, with the same command
# line), for tests of what clients do when the API server goes away and comes back. Waits until the new
# one is ready. Only the stack's own process is touched (its pid is checked against its binary).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pid=$(recorded_pid kube-apiserver)
pid_is_ours "$pid" kube-apiserver || die "no running kube-apiserver recorded in $PIDS_DIR (is the stack up?)"
mapfile -d '' -t cmd <"/proc/$pid/cmdline"

kill -TERM "$pid"
for _ in $(seq 1 150); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi

setsid "${cmd[@]}" </dev/null >>"$PROC_LOGS_DIR/kube-apiserver.log" 2>&1 &
echo $! >"$PIDS_DIR/kube-apiserver"

CURL_ADMIN=(curl -sS --max-time 3 --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key")
deadline=$(($(date +%s) + 90))
until [ "$("${CURL_ADMIN[@]}" "https://127.0.0.1:$PORT_APISERVER/readyz" 2>/dev/null)" = ok ]; do
  kill -0 "$(recorded_pid kube-apiserver)" 2>/dev/null || die "kube-apiserver exited on restart (log: $PROC_LOGS_DIR/kube-apiserver.log)"
  [ "$(date +%s)" -lt "$deadline" ] || die "kube-apiserver not ready 90 s after its restart"
  sleep 0.2
done
log "kube-apiserver restarted (pid $(recorded_pid kube-apiserver))"
