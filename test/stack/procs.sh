# How the stack's processes are started and checked: shared by up.sh (start everything) and
# restart.sh (restart one process of a running stack, e.g. the reliability suite's apiserver restart).
# Source after lib.sh, don't run.

# start NAME CMD...: run detached (own session, so a Ctrl-C in the caller's terminal does not
# reach it), output to logs/NAME.log (appended: a restart keeps the earlier run's lines), pid to
# pids/NAME. setsid execs in place, so $! is the pid.
start() {
  local name=$1; shift
  # 9>&-: the stack lock must not be inherited, or it would stay held while the process runs.
  setsid "$@" </dev/null >>"$PROC_LOGS_DIR/$name.log" 2>&1 9>&- &
  echo $! >"$PIDS_DIR/$name"
}

# start_proc NAME: starts one of $STACK_PROCS with its command line (the only place it is written).
start_proc() {
  case $1 in
    etcd)
      start etcd "$STACK_BIN/etcd" --name tkj --data-dir "$DATA_DIR/etcd" \
        --listen-client-urls "http://127.0.0.1:$PORT_ETCD" --advertise-client-urls "http://127.0.0.1:$PORT_ETCD" \
        --listen-peer-urls "http://127.0.0.1:$PORT_ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$PORT_ETCD_PEER" \
        --initial-cluster "tkj=http://127.0.0.1:$PORT_ETCD_PEER" \
        --unsafe-no-fsync --quota-backend-bytes=2147483648 --log-level=warn ;;
    temporal)
      start temporal "$STACK_BIN/temporal" server start-dev --ip 127.0.0.1 --port "$PORT_TEMPORAL" \
        --ui-ip 127.0.0.1 --ui-port "$PORT_TEMPORAL_UI" \
        --db-filename "$DATA_DIR/temporal.db" --log-level warn ;;
    kube-apiserver)
      start kube-apiserver "$STACK_BIN/kube-apiserver" \
        --etcd-servers="http://127.0.0.1:$PORT_ETCD" \
        --bind-address=127.0.0.1 --secure-port="$PORT_APISERVER" --advertise-address=127.0.0.1 \
        --tls-cert-file="$PKI_DIR/apiserver.crt" --tls-private-key-file="$PKI_DIR/apiserver.key" \
        --client-ca-file="$PKI_DIR/ca.crt" \
        --authorization-mode=Node,RBAC \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-account-key-file="$PKI_DIR/sa.pub" --service-account-signing-key-file="$PKI_DIR/sa.key" \
        --service-cluster-ip-range=10.0.0.0/24 \
        --kubelet-preferred-address-types=InternalIP,Hostname \
        --kubelet-client-certificate="$PKI_DIR/admin.crt" --kubelet-client-key="$PKI_DIR/admin.key" \
        --endpoint-reconciler-type=none \
        --profiling=false ;;
    kube-controller-manager)
      start kube-controller-manager "$STACK_BIN/kube-controller-manager" \
        --kubeconfig="$ADMIN_KUBECONFIG" \
        --bind-address=127.0.0.1 --secure-port="$PORT_KCM" \
        --leader-elect=false \
        --service-account-private-key-file="$PKI_DIR/sa.key" --root-ca-file="$PKI_DIR/ca.crt" \
        --use-service-account-credentials=true \
        --cluster-signing-cert-file="$PKI_DIR/ca.crt" --cluster-signing-key-file="$PKI_DIR/ca.key" \
        --kube-api-qps=100 --kube-api-burst=200 \
        --profiling=false ;;
    kube-scheduler)
      start kube-scheduler "$STACK_BIN/kube-scheduler" \
        --kubeconfig="$ADMIN_KUBECONFIG" \
        --bind-address=127.0.0.1 --secure-port="$PORT_SCHEDULER" \
        --leader-elect=false --profiling=false ;;
    kwok)
      KWOK_WORKDIR="$KWOK_WORKDIR_PATH" start kwok "$STACK_BIN/kwok" \
        --kubeconfig="$ADMIN_KUBECONFIG" \
        --config="$STACK_SCRIPTS_DIR/kwok-stages.yaml" \
        --manage-all-nodes \
        --node-ip=127.0.0.1 --node-port="$PORT_KWOK" --server-address="127.0.0.1:$PORT_KWOK" \
        --cidr=10.244.0.1/16 \
        --node-lease-duration-seconds=40 \
        --enable-crds=ClusterLogs,Logs ;;
    log-writer)
      local node_bin
      node_bin=$(command -v node) || die "'node' is not on PATH (the stack's pod log writer is a Node script)"
      start log-writer "$node_bin" "$STACK_SCRIPTS_DIR/log-writer.mjs" \
        --server "https://127.0.0.1:$PORT_APISERVER" --ca "$PKI_DIR/ca.crt" --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key" \
        --dir "$POD_LOGS_DIR" ;;
    *) die "unknown stack process '$1' (one of: $STACK_PROCS)" ;;
  esac
}

# Readiness probes.
CURL_ADMIN=(curl -sS --max-time 3 --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key")
etcd_healthy() { curl -sS --max-time 2 "http://127.0.0.1:$PORT_ETCD/health" | grep -q '"health":"true"'; }
temporal_healthy() {
  "$STACK_BIN/temporal" operator cluster health --address "127.0.0.1:$PORT_TEMPORAL" >/dev/null 2>&1
}
temporal_ui_ready() {
  [ "$(curl -sS --max-time 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_TEMPORAL_UI/" 2>/dev/null)" = 200 ]
}
log_writer_ready() { [ "$(cat "$POD_LOGS_DIR/_writer/.ready" 2>/dev/null)" = "$(recorded_pid log-writer)" ]; }
apiserver_ready() {
  [ "$("${CURL_ADMIN[@]}" "https://127.0.0.1:$PORT_APISERVER/readyz" 2>/dev/null)" = ok ]
}
kwok_healthy() { [ "$(curl -sS --max-time 2 "http://127.0.0.1:$PORT_KWOK/healthz")" = ok ]; }
sched_healthy() { curl -sSk --max-time 2 "https://127.0.0.1:$PORT_SCHEDULER/healthz" | grep -qx ok; }
kcm_healthy() { curl -sSk --max-time 2 "https://127.0.0.1:$PORT_KCM/healthz" | grep -qx ok; }

# proc_ready NAME: whether a started process serves.
proc_ready() {
  case $1 in
    etcd) etcd_healthy ;;
    temporal) temporal_healthy ;;
    kube-apiserver) apiserver_ready ;;
    kube-controller-manager) kcm_healthy ;;
    kube-scheduler) sched_healthy ;;
    kwok) kwok_healthy ;;
    log-writer) log_writer_ready ;;
    *) return 1 ;;
  esac
}
