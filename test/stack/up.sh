#!/usr/bin/env bash
# Brings the local stack up on 127.0.0.1 (or reuses it if it is already up and healthy):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (fake kubelet for 2 nodes)
# the Temporal dev server (with its Web UI) and the pod log writer (log-writer.mjs). Builds the tools first if they are missing (tens of minutes once).
# Writes $STACK_DIR/env (KUBECONFIG, TEMPORAL_ADDRESS, TEMPORAL_UI_URL, STACK_BIN, STACK_LOGS_DIR, ...).
# See docs/local-stack.md.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/procs.sh"

T0=$(date +%s%N)
elapsed() { local ms=$(( ($(date +%s%N) - T0) / 1000000 )); printf '%d.%01ds' $((ms / 1000)) $(((ms % 1000) / 100)); }

# One up/down at a time per state dir (two jest runs may race here).
mkdir -p "$CACHE_ROOT"
exec 9>"$LOCK_FILE"
if ! flock -n 9; then
  log "another stack:up/down is running for $STACK_DIR; waiting for it"
  flock -w 5400 9 || die "timed out waiting for the other stack:up/down"
fi

# A running stack started from other scripts/stages/versions is restarted, not reused.
CONFIG_HASH=$(cat "$STACK_SCRIPTS_DIR/up.sh" "$STACK_SCRIPTS_DIR/lib.sh" "$STACK_SCRIPTS_DIR/procs.sh" "$STACK_SCRIPTS_DIR/versions.env" "$STACK_SCRIPTS_DIR/kwok-stages.yaml" "$STACK_SCRIPTS_DIR/log-writer.mjs" | cksum | cut -d' ' -f1)

stack_healthy() {
  [ -f "$ENV_FILE" ] || return 1
  if [ "$(cat "$STACK_DIR/config-hash" 2>/dev/null)" != "$CONFIG_HASH" ]; then
    log "the running stack was started with other stack scripts/stages/versions"
    return 1
  fi
  local p
  for p in $STACK_PROCS; do pid_is_ours "$(recorded_pid "$p")" "$p" || return 1; done
  apiserver_ready || return 1
  [ "$(curl -sS --max-time 3 "http://127.0.0.1:$PORT_KWOK/healthz" 2>/dev/null)" = ok ] || return 1
  temporal_healthy || return 1
  temporal_ui_ready || return 1
  log_writer_ready || return 1
}

if stack_healthy; then
  log "stack already up ($(elapsed)); env: $ENV_FILE"
  exit 0
fi
# STACK_CHECK_ONLY=1: only report (exit 3 = not up and healthy); used by .ci/run.
[ -z "${STACK_CHECK_ONLY:-}" ] || exit 3

# Tools (cached per versions; a no-op when all binaries exist).
need_build=0
for b in temporal kwok etcd kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  [ -x "$STACK_BIN/$b" ] || need_build=1
done
[ -f "$TOOLS_DIR/kwok-crds/kwok.x-k8s.io_clusterlogs.yaml" ] || need_build=1
if [ "$need_build" = 1 ]; then
  log "stack tools missing in $STACK_BIN: building them from the Go module proxy (first time: tens of minutes)"
  bash "$STACK_SCRIPTS_DIR/build-tools.sh"
fi

# Anything left from an earlier run (crashed, half up): stop our recorded processes, drop state.
if [ -d "$PIDS_DIR" ] || [ -f "$ENV_FILE" ]; then
  log "stack not (fully) healthy: restarting it from scratch"
  STACK_DOWN_LOCKED=1 bash "$STACK_SCRIPTS_DIR/down.sh"
fi

for port in $STACK_PORTS; do
  if port_open "$port"; then
    who=$( (ss -Hltnp "sport = :$port" 2>/dev/null || true) | sed -n 's/.*users:((\(.*\)))/\1/p' | head -1)
    die "127.0.0.1:$port is already in use by a process this stack did not start${who:+ ($who)}. Stop it, or point the tests at an existing cluster with TKJ_TEST_KUBECONFIG (see docs/local-stack.md)."
  fi
done

mkdir -p "$PIDS_DIR" "$PROC_LOGS_DIR" "$PKI_DIR" "$DATA_DIR" "$POD_LOGS_DIR" "$KWOK_WORKDIR_PATH"
chmod 700 "$PKI_DIR"
# Process logs start empty (start() appends, so that restart.sh keeps a process's earlier lines).
for p in $STACK_PROCS; do : >"$PROC_LOGS_DIR/$p.log"; done

# ---------------------------------------------------------------- PKI (openssl; ~1 s)
gen_pki() {
  local d=$PKI_DIR
  [ -f "$d/ca.crt" ] && [ -f "$d/apiserver.crt" ] && [ -f "$d/admin.crt" ] && [ -f "$d/sa.key" ] && return 0
  log "generating PKI in $d"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.crt" -days 3650 \
    -subj "/CN=temporal-k8s-jobs-local-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
  # kube-apiserver serving cert. 10.0.0.1 = the `kubernetes` Service's cluster IP (SAN only).
  cat >"$d/apiserver.ext" <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.0.0.1
EOF
  openssl req -newkey rsa:2048 -nodes -keyout "$d/apiserver.key" -out "$d/apiserver.csr" -subj "/CN=kube-apiserver" 2>/dev/null
  openssl x509 -req -in "$d/apiserver.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -out "$d/apiserver.crt" -days 3650 -extfile "$d/apiserver.ext" 2>/dev/null
  # Admin client cert: group system:masters (used by the control plane, kwok, tests and kubectl).
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"$d/client.ext"
  openssl req -newkey rsa:2048 -nodes -keyout "$d/admin.key" -out "$d/admin.csr" -subj "/O=system:masters/CN=admin" 2>/dev/null
  openssl x509 -req -in "$d/admin.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -out "$d/admin.crt" -days 3650 -extfile "$d/client.ext" 2>/dev/null
  # Service-account token signing key pair.
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
  rm -f "$d"/*.csr "$d"/*.ext "$d"/*.srl
  chmod 600 "$d"/*.key
}
gen_pki

b64() { base64 -w0 <"$1"; }
cat >"$ADMIN_KUBECONFIG" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tkj-local
  cluster:
    server: https://127.0.0.1:$PORT_APISERVER
    certificate-authority-data: $(b64 "$PKI_DIR/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(b64 "$PKI_DIR/admin.crt")
    client-key-data: $(b64 "$PKI_DIR/admin.key")
contexts:
- name: tkj-local
  context:
    cluster: tkj-local
    user: admin
    namespace: default
current-context: tkj-local
EOF
chmod 600 "$ADMIN_KUBECONFIG"
KUBECTL=("$STACK_BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG")

# ---------------------------------------------------------------- process helpers
# wait_for WHAT TIMEOUT_S PROC CMD...: poll CMD (every 0.2 s) until it succeeds, with a deadline;
# fail at once if PROC (a started process name, or -) has exited. Prints progress every 5 s.
wait_for() {
  local what=$1 timeout=$2 proc=$3; shift 3
  local deadline=$(( $(date +%s) + timeout )) next_note=$(( $(date +%s) + 5 ))
  until "$@" >/dev/null 2>&1; do
    if [ "$proc" != - ] && ! kill -0 "$(recorded_pid "$proc")" 2>/dev/null; then
      tail -n 30 "$PROC_LOGS_DIR/$proc.log" >&2 || true
      die "$proc exited while waiting for $what (log: $PROC_LOGS_DIR/$proc.log)"
    fi
    local now; now=$(date +%s)
    if [ "$now" -ge "$deadline" ]; then
      if [ "$proc" != - ]; then tail -n 30 "$PROC_LOGS_DIR/$proc.log" >&2 || true; fi
      die "timed out after ${timeout}s waiting for $what (logs: $PROC_LOGS_DIR)"
    fi
    if [ "$now" -ge "$next_note" ]; then log "  still waiting for $what ($(elapsed))"; next_note=$((now + 5)); fi
    sleep 0.2
  done
  log "$what: ready ($(elapsed))"
}

# ---------------------------------------------------------------- etcd + Temporal
log "starting etcd and the Temporal dev server"
start_proc etcd
start_proc temporal

wait_for "etcd" 30 etcd etcd_healthy

# ---------------------------------------------------------------- kube-apiserver
log "starting kube-apiserver"
start_proc kube-apiserver

wait_for "kube-apiserver /readyz" 60 kube-apiserver apiserver_ready

# ---------------------------------------------------------------- controllers, scheduler, kwok
log "starting kube-controller-manager, kube-scheduler and kwok"
# kwok serves pod logs from ClusterLogs/Logs objects (CRDs): install them before kwok starts.
"${KUBECTL[@]}" apply -f "$TOOLS_DIR/kwok-crds/kwok.x-k8s.io_clusterlogs.yaml" -f "$TOOLS_DIR/kwok-crds/kwok.x-k8s.io_logs.yaml" >/dev/null

start_proc kube-controller-manager

start_proc kube-scheduler

for crd in clusterlogs.kwok.x-k8s.io logs.kwok.x-k8s.io; do
  "${KUBECTL[@]}" wait --for=condition=Established "crd/$crd" --timeout=30s >/dev/null
done
start_proc kwok

# Two fake nodes: InternalIP 127.0.0.1 (so the apiserver proxies pods/log to kwok on loopback),
# kubelet port = kwok's server, roomy allocatable.
nodes_yaml() {
  local i
  for i in 0 1; do cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  labels:
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: kwok-node-$i
    type: kwok
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
status:
  addresses:
  - {type: InternalIP, address: 127.0.0.1}
  - {type: Hostname, address: kwok-node-$i}
  daemonEndpoints:
    kubeletEndpoint:
      Port: $PORT_KWOK
  allocatable: {cpu: "32", memory: 256Gi, pods: "500", ephemeral-storage: 1Ti}
  capacity: {cpu: "32", memory: 256Gi, pods: "500", ephemeral-storage: 1Ti}
EOF
  done
}
nodes_yaml | "${KUBECTL[@]}" create -f - >/dev/null

wait_for "kwok server" 30 kwok kwok_healthy
nodes_ready() {
  local s
  s=$("${KUBECTL[@]}" get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{" "}{end}')
  [ "$s" = "True True " ]
}
wait_for "2 Ready nodes" 60 kwok nodes_ready
default_sa() { "${KUBECTL[@]}" -n default get serviceaccount default; }
wait_for "ServiceAccount default/default" 60 kube-controller-manager default_sa
wait_for "kube-scheduler" 30 kube-scheduler sched_healthy
wait_for "Temporal dev server" 60 temporal temporal_healthy
wait_for "Temporal Web UI" 60 temporal temporal_ui_ready

# Pod log writer: the kwok.temporal-k8s-jobs/logs annotation, and an (empty) log for every pod.
start_proc log-writer
wait_for "pod log writer" 30 log-writer log_writer_ready

cat >"$ENV_FILE.tmp" <<EOF
# Written by test/stack/up.sh. Source it: . .stack/env
export KUBECONFIG='$ADMIN_KUBECONFIG'
export TEMPORAL_ADDRESS='127.0.0.1:$PORT_TEMPORAL'
export TEMPORAL_UI_URL='http://127.0.0.1:$PORT_TEMPORAL_UI'
export STACK_BIN='$STACK_BIN'
export STACK_LOGS_DIR='$POD_LOGS_DIR'
export STACK_DIR='$STACK_DIR'
export STACK_CA_FILE='$PKI_DIR/ca.crt'
export STACK_KWOK_URL='http://127.0.0.1:$PORT_KWOK'
EOF
echo "$CONFIG_HASH" >"$STACK_DIR/config-hash"
mv "$ENV_FILE.tmp" "$ENV_FILE"
log "stack up in $(elapsed). Use it with: . $ENV_FILE (Temporal Web UI: http://127.0.0.1:$PORT_TEMPORAL_UI)"
