#!/usr/bin/env bash
# Builds (or reuses) the real control-plane binaries the test cluster runs: kube-apiserver,
# kube-controller-manager, kube-scheduler, etcd and helm, at the versions pinned in go/go.mod.
# They are cached under ~/.cache/hypersearch/<versions>/bin and rebuilt only when the pins change.
#
#   source tests/k8s/build.sh   # exports HYPERSEARCH_K8S_BIN (what scripts/test.sh does)
#   tests/k8s/build.sh          # prints the bin dir
#
# To use existing binaries instead, set HYPERSEARCH_K8S_BIN to a directory holding all five;
# nothing is built then. A failed build exits non-zero: tests never skip for a missing binary.

_hs_k8s_build() {
  local here gomod key cache bin names name missing
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  gomod="$here/go"
  names="kube-apiserver kube-controller-manager kube-scheduler etcd helm"

  if [ -n "${HYPERSEARCH_K8S_BIN:-}" ]; then
    missing=""
    for name in $names; do [ -x "$HYPERSEARCH_K8S_BIN/$name" ] || missing="$missing $name"; done
    if [ -n "$missing" ]; then
      echo "HYPERSEARCH_K8S_BIN=$HYPERSEARCH_K8S_BIN lacks:$missing" >&2
      return 1
    fi
    return 0
  fi

  # Cache key: the pinned versions plus a hash of everything that decides the build.
  # tests/cluster/binaries.py computes the same key; keep the two in step.
  key="$(python3 "$here/cache_key.py")" || return 1
  cache="${HYPERSEARCH_CACHE:-$HOME/.cache/hypersearch}"
  bin="$cache/$key/bin"
  if _hs_k8s_complete "$bin" "$names"; then
    HYPERSEARCH_K8S_BIN="$bin"
    return 0
  fi
  # Concurrent sessions build once: the others wait on the lock and then reuse the result.
  mkdir -p "$cache/$key"
  local lock_fd rc=0
  exec {lock_fd}>"$cache/$key/build.lock"
  flock "$lock_fd"
  if ! _hs_k8s_complete "$bin" "$names"; then
    _hs_k8s_compile "$gomod" "$cache/$key" || rc=$?
  fi
  exec {lock_fd}>&-
  [ "$rc" = 0 ] || return "$rc"
  HYPERSEARCH_K8S_BIN="$bin"
}

_hs_k8s_complete() {
  local name
  for name in $2; do [ -x "$1/$name" ] || return 1; done
}

# Compiles all five binaries into DIR/bin (atomically: a bin/ that exists is complete).
_hs_k8s_compile() {
  local gomod="$1" dir="$2" bin="$2/bin" tmp

  local go_cmd
  go_cmd="$(command -v go || echo /usr/local/go/bin/go)"
  if [ ! -x "$go_cmd" ]; then
    echo "tests/k8s/build.sh: no Go toolchain found (need Go >= 1.26)" >&2
    return 1
  fi
  local kver helmver ld start
  kver="$(awk '$1 == "k8s.io/kubernetes" {print $2}' "$gomod/go.mod")"
  helmver="$(awk '$1 == "helm.sh/helm/v3" {print $2}' "$gomod/go.mod")"
  # Version stamps: helm and clients read the server's gitVersion (e.g. chart kubeVersion).
  local minor="${kver#v1.}"; minor="${minor%%.*}"
  ld="-s -w"
  ld="$ld -X k8s.io/component-base/version.gitVersion=$kver"
  ld="$ld -X k8s.io/component-base/version.gitMajor=1"
  ld="$ld -X k8s.io/component-base/version.gitMinor=$minor"
  ld="$ld -X k8s.io/component-base/version.gitTreeState=clean"
  ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=$kver"
  ld="$ld -X helm.sh/helm/v3/internal/version.version=$helmver"
  # helm template/lint assume this Kubernetes version (helm's Makefile sets it the same way).
  ld="$ld -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1"
  ld="$ld -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor"
  ld="$ld -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1"
  ld="$ld -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor"
  echo "tests/k8s/build.sh: building $(basename "$dir") (cold: about 7 min on 2 cores)" >&2
  tmp="$(mktemp -d "$dir/bin.tmp.XXXXXX")"
  start=$SECONDS
  if ! (cd "$gomod" && CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false -mod=readonly" \
        GOTOOLCHAIN="${GOTOOLCHAIN:-local}" \
        "$go_cmd" build -ldflags="$ld" -o "$tmp/" \
          k8s.io/kubernetes/cmd/kube-apiserver \
          k8s.io/kubernetes/cmd/kube-controller-manager \
          k8s.io/kubernetes/cmd/kube-scheduler \
          helm.sh/helm/v3/cmd/helm \
          ./cmd/etcd); then
    rm -rf "$tmp"
    echo "tests/k8s/build.sh: build failed" >&2
    return 1
  fi
  rm -rf "$bin"
  mv "$tmp" "$bin"
  echo "tests/k8s/build.sh: built in $((SECONDS - start))s into $bin" >&2
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  _hs_k8s_build
  echo "$HYPERSEARCH_K8S_BIN"
else
  _hs_k8s_build || return 1
  export HYPERSEARCH_K8S_BIN
fi
