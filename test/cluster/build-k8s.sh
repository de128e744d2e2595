#!/usr/bin/env bash
# Builds pinned Kubernetes binaries, etcd, kubectl and helm from the Go module proxy.
# Output is cached outside the repo, keyed by version, so a warm run costs seconds.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.33.13}"
HELM_VERSION="${HELM_VERSION:-v3.17.3}"
CACHE_ROOT="${SCALESWE_CACHE:-$HOME/.cache/scaleswe}"
OUT="$CACHE_ROOT/k8s-$K8S_VERSION/bin"
WORK="$CACHE_ROOT/k8s-$K8S_VERSION/src"
K8S_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
ALL_BINS=("${K8S_BINS[@]}" etcd helm)

missing=()
for b in "${ALL_BINS[@]}"; do [[ -x "$OUT/$b" ]] || missing+=("$b"); done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "k8s binaries $K8S_VERSION cached in $OUT"
  exit 0
fi
command -v go >/dev/null || { echo "error: go is required to build Kubernetes ($K8S_VERSION)" >&2; exit 1; }
mkdir -p "$CACHE_ROOT"
# One build at a time per version (parallel CI runs on the same machine share the cache).
exec 9>"$CACHE_ROOT/k8s-$K8S_VERSION.lock"
flock 9
missing=()
for b in "${ALL_BINS[@]}"; do [[ -x "$OUT/$b" ]] || missing+=("$b"); done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "k8s binaries $K8S_VERSION cached in $OUT (built by a concurrent run)"
  exit 0
fi
echo "building ${missing[*]} for Kubernetes $K8S_VERSION into $OUT"
start=$(date +%s)
# Binaries land in $STAGE first and move into $OUT only when complete, so an interrupted
# build never leaves a truncated binary that a later run would take for cached.
STAGE="$WORK/out"
rm -rf "$STAGE"
mkdir -p "$OUT" "$WORK/etcd" "$STAGE"
cd "$WORK"

export GOFLAGS="-buildvcs=false -mod=mod"
export CGO_ENABLED=0

# Staging modules are listed as v0.0.0 in kubernetes' go.mod; each maps to v0.<minor>.<patch>.
staging_version="v0.${K8S_VERSION#v1.}"
k8s_gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')
# Our module = kubernetes' own require blocks (exact pins, so nothing floats to @latest),
# plus k8s.io/kubernetes itself, plus staging replaces pointing at published versions.
{
  echo "module scaleswe.local/k8sbuild"
  awk '$1=="go" || $1=="godebug"' "$k8s_gomod"
  awk '/^require \(/{inreq=1} inreq{print} /^\)/{inreq=0}' "$k8s_gomod"
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo "replace ("
  awk '/=> \.\/staging\//{print "\t" $1 " => " $1 " '"$staging_version"'"}' "$k8s_gomod"
  echo ")"
} > go.mod
cat > etcd/main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit}' "$k8s_gomod")

minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

pkgs=()
for b in "${K8S_BINS[@]}"; do [[ -x "$OUT/$b" ]] || pkgs+=("k8s.io/kubernetes/cmd/$b"); done
if [[ ${#pkgs[@]} -gt 0 ]]; then
  echo "go build ${pkgs[*]}"
  go build -trimpath -ldflags "$ldflags" -o "$STAGE/" "${pkgs[@]}"
  for p in "${pkgs[@]}"; do mv "$STAGE/${p##*/}" "$OUT/"; done
fi
if [[ ! -x "$OUT/etcd" ]]; then
  echo "go build etcd $etcd_version"
  go build -trimpath -ldflags "-s -w" -o "$STAGE/etcd" ./etcd
  mv "$STAGE/etcd" "$OUT/etcd"
fi
if [[ ! -x "$OUT/helm" ]]; then
  echo "go install helm $HELM_VERSION"
  GOBIN="$STAGE" GOFLAGS=-buildvcs=false go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$STAGE/helm" "$OUT/helm"
fi
echo "built in $(( $(date +%s) - start ))s:"
for b in "${ALL_BINS[@]}"; do echo "  $OUT/$b"; done
"$OUT/kube-apiserver" --version
"$OUT/etcd" --version | head -1
