#!/usr/bin/env bash
# Builds the local stack's tools from the Go module proxy into a cache keyed by versions.
# Idempotent: only missing binaries are built. Safe to re-run after an interruption.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v go >/dev/null 2>&1 || die "'go' is not on PATH. The stack is built from Go modules: install Go >= 1.24 ('apt-get install golang', or the Go project's release for your platform) and re-run 'npm run stack:build'."

mkdir -p "$STACK_BIN"
# One build at a time per tools dir (up.sh and `npm run stack:build` may race).
exec 8>"$TOOLS_DIR/.build.lock"
if ! flock -n 8; then
  log "another build of the stack tools is running; waiting for it"
  flock -w 5400 8 || die "timed out waiting for the other build"
fi
WORK="$TOOLS_DIR/work"
mkdir -p "$WORK"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOTOOLCHAIN=${GOTOOLCHAIN:-local}

have() { [ -x "$STACK_BIN/$1" ]; }
started=$(date +%s)
mmss() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# step N WHAT FUNCTION: runs FUNCTION (in a subshell, so its cd stays there) with a progress line
# every 30 s, and a line with its time when it is done. go builds print nothing for minutes; a first
# `npm run demo` runs this, so the user must see that it is moving.
TOTAL_STEPS=5
step() {
  local n=$1 what=$2 fn=$3 t0 ticker rc=0
  t0=$(date +%s)
  ( while sleep 30; do log "[$n/$TOTAL_STEPS] still building $what ($(mmss $(( $(date +%s) - t0 ))), total $(mmss $(( $(date +%s) - started ))))"; done ) 9>&- 8>&- &
  ticker=$!
  # In the background and waited for, not `( "$fn" ) || ...`: inside an || list bash ignores set -e,
  # and a failing go command would not stop the step.
  ( "$fn" ) 9>&- &
  wait $! || rc=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  [ "$rc" = 0 ] || die "building $what failed (exit $rc); run 'npm run stack:build' again to retry (it only builds what is missing)"
  log "[$n/$TOTAL_STEPS] $what: ok ($(mmss $(( $(date +%s) - t0 ))), total $(mmss $(( $(date +%s) - started ))))"
}

build_temporal() {
  have temporal && return 0
  log "building temporal CLI $TEMPORAL_CLI_VERSION"
  GOBIN="$WORK/gobin" go install -ldflags='-s -w' "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"
  mv "$WORK/gobin/temporal" "$STACK_BIN/temporal"
}

build_kwok() {
  have kwok && return 0
  log "building kwok $KWOK_VERSION"
  GOBIN="$WORK/gobin" go install -ldflags='-s -w' "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv "$WORK/gobin/kwok" "$STACK_BIN/kwok"
}

build_etcd() {
  have etcd && return 0
  log "building etcd $ETCD_VERSION"
  # etcd's go.mod has replace directives, so 'go install pkg@version' refuses it; a wrapper module does not.
  local d="$WORK/etcd"
  rm -rf "$d"; mkdir -p "$d"; cd "$d"
  go mod init stackbuild/etcd >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go build -mod=mod -ldflags='-s -w' -o "$d/etcd" go.etcd.io/etcd/server/v3
  mv "$d/etcd" "$STACK_BIN/etcd"
}

build_kubernetes() {
  have kube-apiserver && have kube-controller-manager && have kube-scheduler && have kubectl && return 0
  log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $KUBERNETES_VERSION (the long part)"
  local d="$WORK/kubernetes" staging="v0.${KUBERNETES_VERSION#v1.}"
  rm -rf "$d"; mkdir -p "$d"; cd "$d"
  go mod init stackbuild/kubernetes >/dev/null 2>&1
  # k8s.io/kubernetes replaces its staging modules with ./staging/...; point each at its published v0.X.
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@$KUBERNETES_VERSION"
  local n=0
  for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/src/.*#\1#p' "$gomod"); do
    go mod edit -replace "$m=$m@$staging"; n=$((n+1))
  done
  [ "$n" -gt 20 ] || die "expected the staging replace list in $gomod, found $n entries"
  log "replaced $n staging modules with $staging"
  go mod edit -require "k8s.io/kubernetes@$KUBERNETES_VERSION"
  local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  go build -mod=mod -ldflags="$ld" -o "$d/out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do mv "$d/out/$b" "$STACK_BIN/$b"; done
}

copy_kwok_assets() {
  # kwok v0.8.0 ships its stock stages and its CRDs only in its source tree. up.sh installs the
  # ClusterLogs/Logs CRDs (pod logs); the stock stages are kept for reference (kwok-stages.yaml).
  [ -d "$TOOLS_DIR/kwok-stages" ] && [ -f "$TOOLS_DIR/kwok-crds/kwok.x-k8s.io_clusterlogs.yaml" ] && return 0
  local dir
  dir=$(cd / && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -n "$dir" ] && [ -d "$dir/kustomize/stage" ] && [ -d "$dir/kustomize/crd/bases" ] || die "could not find sigs.k8s.io/kwok@$KWOK_VERSION's kustomize/ dir (go mod download)"
  rm -rf "$TOOLS_DIR/kwok-stages" "$TOOLS_DIR/kwok-crds"
  cp -r "$dir/kustomize/stage" "$TOOLS_DIR/kwok-stages"
  cp -r "$dir/kustomize/crd/bases" "$TOOLS_DIR/kwok-crds"
  chmod -R u+w "$TOOLS_DIR/kwok-stages" "$TOOLS_DIR/kwok-crds"
}

log "stack tools: $STACK_BIN (missing ones are built from source; first time ~8 min on 2 cores)"
step 1 "Temporal CLI $TEMPORAL_CLI_VERSION" build_temporal
step 2 "kwok $KWOK_VERSION" build_kwok
step 3 "etcd $ETCD_VERSION" build_etcd
step 4 "Kubernetes $KUBERNETES_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl)" build_kubernetes
step 5 "kwok stages and CRDs" copy_kwok_assets
for b in temporal kwok etcd kube-apiserver kube-controller-manager kube-scheduler kubectl; do have "$b" || die "$b missing after build"; done
[ -f "$TOOLS_DIR/kwok-crds/kwok.x-k8s.io_clusterlogs.yaml" ] || die "kwok CRDs missing after build"
rm -rf "$WORK"
log "tools ready in $STACK_BIN ($(( $(date +%s) - started ))s this run; $(du -sh "$STACK_BIN" | cut -f1))"
