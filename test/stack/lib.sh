# Shared by the stack scripts: versions, cache location, state layout, logging. Source, don't run.
STACK_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$STACK_SCRIPTS_DIR/../.." && pwd)
# shellcheck source=versions.env
. "$STACK_SCRIPTS_DIR/versions.env"
TOOLS_KEY="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_temporal-${TEMPORAL_CLI_VERSION}_kwok-${KWOK_VERSION}"
CACHE_ROOT=${TKJ_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-k8s-jobs}
TOOLS_DIR="$CACHE_ROOT/tools/$TOOLS_KEY"
STACK_BIN="$TOOLS_DIR/bin"
STACK_DIR=${STACK_DIR:-$REPO_ROOT/.stack}

# State layout under $STACK_DIR (git-ignored):
#   env            sh-sourceable exports for tests/demo (written last by up.sh)
#   pids/<name>    pid of each process up.sh started (down.sh stops exactly these)
#   logs/<name>.log  process logs (kept by down.sh for post-mortems; truncated by the next up)
#   pki/           CA, apiserver serving cert, admin client cert, service-account key pair
#   data/          etcd data dir, Temporal SQLite file
#   pod-logs/      CRI-format log files served by kwok (STACK_LOGS_DIR); pod-logs/_writer/ is the
#                  log writer's (log-writer.mjs: the kwok.temporal-k8s-jobs/logs annotation)
#   kwok/          KWOK_WORKDIR (keeps ~/.kwok out of the picture)
#   admin.kubeconfig
PIDS_DIR="$STACK_DIR/pids"
PROC_LOGS_DIR="$STACK_DIR/logs"
PKI_DIR="$STACK_DIR/pki"
DATA_DIR="$STACK_DIR/data"
POD_LOGS_DIR="$STACK_DIR/pod-logs"
KWOK_WORKDIR_PATH="$STACK_DIR/kwok"
ADMIN_KUBECONFIG="$STACK_DIR/admin.kubeconfig"
ENV_FILE="$STACK_DIR/env"
LOCK_FILE="$CACHE_ROOT/stack-$(printf '%s' "$STACK_DIR" | cksum | cut -d' ' -f1).lock"

# Every process of the stack, in start order (down.sh stops them in reverse).
STACK_PROCS="etcd temporal kube-apiserver kube-controller-manager kube-scheduler kwok log-writer"

# Loopback ports (all bound to 127.0.0.1). STACK_PORT_OFFSET (default 0) shifts them all, so a second
# stack (another checkout, with its own STACK_DIR) can run next to the default one.
_o=${STACK_PORT_OFFSET:-0}
PORT_ETCD=$((2379 + _o)) PORT_ETCD_PEER=$((2380 + _o)) PORT_APISERVER=$((6443 + _o)) PORT_KCM=$((10257 + _o))
PORT_SCHEDULER=$((10259 + _o)) PORT_KWOK=$((10247 + _o)) PORT_TEMPORAL=$((7233 + _o)) PORT_TEMPORAL_UI=$((8233 + _o))
STACK_PORTS="$PORT_ETCD $PORT_ETCD_PEER $PORT_APISERVER $PORT_KCM $PORT_SCHEDULER $PORT_KWOK $PORT_TEMPORAL $PORT_TEMPORAL_UI"

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

# pid recorded for a process name, or empty.
recorded_pid() { [ -f "$PIDS_DIR/$1" ] && cat "$PIDS_DIR/$1" || true; }

# What a process's command line contains: its binary, or for the log writer its script.
proc_marker() { if [ "$1" = log-writer ]; then echo "$STACK_SCRIPTS_DIR/log-writer.mjs"; else echo "$STACK_BIN/$1"; fi; }

# True if pid is alive and still runs what we started (guards against pid reuse).
pid_is_ours() {
  local pid=$1 name=$2
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$(proc_marker "$name")"
}

# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
