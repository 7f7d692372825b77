#!/usr/bin/env bash
# Builds a real kube-apiserver and etcd from the Go module proxy for the
# integration tests (sigs.k8s.io/controller-runtime/pkg/envtest), once, into a
# cache directory, and prints that directory on the LAST line of stdout so it
# can be used as KUBEBUILDER_ASSETS:
#
#   export KUBEBUILDER_ASSETS="$(scripts/testenv.sh | tail -n1)"
#
# Progress goes to stderr. Needs only Go (no Docker, no kind, no downloads of
# prebuilt binaries). The binaries are built in throwaway modules in a
# temporary directory, outside this repository's module, and moved into the
# cache directory atomically only once they are complete and report the
# expected version, so an interrupted build is never mistaken for a cached one.
#
# Environment:
#   RAMPART_TESTENV_DIR   cache directory (default <repo>/.cache/testenv/k8s-<version>)
#   RAMPART_TESTENV_FORCE set to 1 to rebuild even when cached binaries exist
set -euo pipefail

K8S_VERSION=1.37.2
ETCD_VERSION=3.6.16

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${RAMPART_TESTENV_DIR:-$repo_root/.cache/testenv/k8s-$K8S_VERSION}"

log() { printf 'testenv: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null 2>&1 || die "go not found in PATH"

# The staging modules (k8s.io/api, k8s.io/apiserver, ...) are tagged
# v0.<minor>.<patch> for Kubernetes v1.<minor>.<patch>.
k8s_minor="${K8S_VERSION#*.}"; k8s_minor="${k8s_minor%%.*}"
staging_version="v0.${K8S_VERSION#*.}"

# Throwaway modules: local toolchain only, let go resolve and record what the
# build needs, never consult a go.work, and build static binaries.
export GOTOOLCHAIN=local
export GOFLAGS="-mod=mod -buildvcs=false"
export GOWORK=off
export CGO_ENABLED=0

# reports <binary> <expected line>: whether the binary's --version output has
# that exact line. No pipe into grep -q: with pipefail, a reader that exits
# early would fail the check through SIGPIPE.
reports() {
  local v nl=$'\n'
  [ -x "$1" ] || return 1
  v="$("$1" --version 2>/dev/null)" || return 1
  [[ "$nl$v$nl" == *"$nl$2$nl"* ]]
}
apiserver_ok() { reports "$1" "Kubernetes v$K8S_VERSION"; }
etcd_ok() { reports "$1" "etcd Version: $ETCD_VERSION"; }

mkdir -p "$out"
out="$(cd "$out" && pwd)"

# Serialise concurrent callers (parallel test binaries) on one cache dir.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$out/.lock"
  if ! flock -n 9; then
    log "waiting for another build in $out"
    flock 9
  fi
fi

if [ "${RAMPART_TESTENV_FORCE:-0}" != 1 ] && apiserver_ok "$out/kube-apiserver" && etcd_ok "$out/etcd"; then
  log "using cached kube-apiserver v$K8S_VERSION and etcd v$ETCD_VERSION"
  printf '%s\n' "$out"
  exit 0
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/rampart-testenv.XXXXXX")"
cleanup() { rm -rf "$work"; rm -f "$out"/.kube-apiserver.tmp.* "$out"/.etcd.tmp.*; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# install_binary moves a finished binary into the cache directory atomically
# (rename within the same directory).
install_binary() { # <built binary> <name>
  local tmp="$out/.$2.tmp.$$"
  cp "$1" "$tmp"
  chmod 0755 "$tmp"
  mv -f "$tmp" "$out/$2"
}

build_etcd() {
  local dir="$work/etcd" start=$SECONDS
  log "building etcd v$ETCD_VERSION (usually under a minute)"
  mkdir -p "$dir"
  cat >"$dir/go.mod" <<EOF
module rampart.local/testenv/etcd

go 1.26
EOF
  (
    cd "$dir"
    go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >&2
    go build -trimpath -o "$dir/etcd" go.etcd.io/etcd/server/v3 >&2
  )
  etcd_ok "$dir/etcd" || die "built etcd does not report version $ETCD_VERSION"
  install_binary "$dir/etcd" etcd
  log "etcd built in $((SECONDS - start))s"
}

build_apiserver() {
  local dir="$work/kube-apiserver" start=$SECONDS gomod
  log "building kube-apiserver v$K8S_VERSION (several minutes on 2 cores)"
  mkdir -p "$dir"
  gomod="$(cd "$dir" && go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [ -n "$gomod" ] && [ -f "$gomod" ] || die "cannot download k8s.io/kubernetes@v$K8S_VERSION"

  # kubernetes' go.mod replaces every staging module with a local
  # ./staging/src/k8s.io/<name> directory, which does not apply to a module
  # that depends on it: pin each of them to the published staging version.
  local staging
  staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._/-]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "$gomod" | sort -u)"
  [ -n "$staging" ] || die "no staging modules found in $gomod"
  log "pinning $(printf '%s\n' "$staging" | wc -l) staging modules to $staging_version"

  {
    printf 'module rampart.local/testenv/kube-apiserver\n\ngo 1.26\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' "$K8S_VERSION"
    printf '%s\n' "$staging" | while read -r m; do
      printf '\t%s => %s %s\n' "$m" "$m" "$staging_version"
    done
    printf ')\n'
  } >"$dir/go.mod"

  local ldflags="-s -w"
  ldflags+=" -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
  ldflags+=" -X k8s.io/component-base/version.gitMinor=$k8s_minor"
  ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitMajor=1"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitMinor=$k8s_minor"
  ldflags+=" -X k8s.io/client-go/pkg/version.gitTreeState=clean"
  (
    cd "$dir"
    go get "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" >&2
    go build -trimpath -ldflags "$ldflags" -o "$dir/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver >&2
  )
  apiserver_ok "$dir/kube-apiserver" || die "built kube-apiserver does not report version v$K8S_VERSION"
  install_binary "$dir/kube-apiserver" kube-apiserver
  log "kube-apiserver built in $((SECONDS - start))s"
}

if [ "${RAMPART_TESTENV_FORCE:-0}" = 1 ] || ! etcd_ok "$out/etcd"; then
  build_etcd
fi
if [ "${RAMPART_TESTENV_FORCE:-0}" = 1 ] || ! apiserver_ok "$out/kube-apiserver"; then
  build_apiserver
fi

log "kube-apiserver: $("$out/kube-apiserver" --version)"
etcd_version="$("$out/etcd" --version)"
log "etcd: ${etcd_version%%$'\n'*}"
printf '%s\n' "$out"
