# Shared by the stack scripts: versions, cache location, logging. Source, don't run.
STACK_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$STACK_SCRIPTS_DIR/../.." && pwd)
# shellcheck source=versions.env
. "$STACK_SCRIPTS_DIR/versions.env"
TOOLS_KEY="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_temporal-${TEMPORAL_CLI_VERSION}_kwok-${KWOK_VERSION}"
CACHE_ROOT=${TKJ_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-k8s-jobs}
TOOLS_DIR="$CACHE_ROOT/tools/$TOOLS_KEY"
STACK_BIN="$TOOLS_DIR/bin"
STACK_DIR=${STACK_DIR:-$REPO_ROOT/.stack}
log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }
