#!/usr/bin/env bash
# A real Kubernetes node on this machine: the kubelet (and kubectl) built from the same pinned
# k8s.io/kubernetes as the test control plane (tests/k8s/go), Debian's containerd (overlayfs
# snapshotter) and runc, and a bridge CNI network from Debian's containernetworking-plugins.
# Run as root. Used by tests/install (the install paths end to end, through its session fixture).
#
#   python -m tests.cluster up &            # prints its kubeconfig path
#   scripts/real-node.sh up KUBECONFIG      # node "hs-node" registers and turns Ready
#   kubectl run ... --overrides='{"spec":{"nodeName":"hs-node"}}' --image=localhost/... \
#       --image-pull-policy=Never           # images: scripts/build-images.sh --archive, then
#   scripts/real-node.sh load IMAGE.tar     #   import into the node's containerd
#   scripts/real-node.sh down               # deletes the node's pods, stops kubelet+containerd
#   scripts/real-node.sh bin                # builds (or reuses) kubelet, kubectl, pause; prints the dir
#
# One node per machine (it owns host-wide state: the kubepods cgroups, the hs-cni0 bridge):
# `up` refuses while one runs; tests/install serialises sessions with flock on /tmp/hypersearch-real-node.lock.
# State lives in HYPERSEARCH_NODE_DIR (default /tmp/hypersearch-node); the kubelet binary is
# cached under ~/.cache/hypersearch/kubelet-<version>-<hash>/. docs/testing.md ("Images and a
# real node") records what this sandbox allows and what each setting below works around.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${HYPERSEARCH_CACHE:-$HOME/.cache/hypersearch}"
DIR="${HYPERSEARCH_NODE_DIR:-/tmp/hypersearch-node}"
NODE="${HYPERSEARCH_NODE_NAME:-hs-node}"
POD_CIDR="${HYPERSEARCH_NODE_POD_CIDR:-10.244.0.0/24}"
GO="$(command -v go || echo /usr/local/go/bin/go)"
SOCK="$DIR/containerd/containerd.sock"
CTR=(ctr -a "$SOCK" -n k8s.io)
PAUSE=localhost/hypersearch/pause:local
# overlayfs works here (as root on ext4): a pod of a 731 MB image was Ready in 7 s, against
# about 70 s with "native" (full copies, no mounts; the fallback where overlay mounts fail).
SNAPSHOTTER="${HYPERSEARCH_NODE_SNAPSHOTTER:-overlayfs}"

# The kubelet, built like tests/k8s/build.sh builds the control plane, in a copy of its Go
# module with cmd/kubelet added (go mod tidy there: tests/k8s/go itself is left unchanged, so
# the control plane's cache key does not move).
build_kubelet() {
  local gomod="$ROOT/tests/k8s/go" kver key out tmp minor ld
  kver="$(awk '$1 == "k8s.io/kubernetes" {print $2}' "$gomod/go.mod")"
  # Keyed by the pins and this recipe (the two functions' text), not by the rest of the script.
  key="$( { cat "$gomod/go.mod" "$gomod/go.sum"; declare -f build_kubelet pause_source; } \
    | sha256sum | cut -c1-12)"
  out="$CACHE/kubelet-$kver-$key"
  if [ ! -x "$out/kubelet" ] || [ ! -x "$out/kubectl" ] || [ ! -x "$out/pause" ]; then
    tmp="$(mktemp -d)"
    cp -r "$gomod/." "$tmp/"
    pause_source "$tmp"
    sed -i 's#^\(\s*\)_ "k8s.io/kubernetes/cmd/kube-scheduler"#&\n\1_ "k8s.io/kubernetes/cmd/kubelet"\n\1_ "k8s.io/kubernetes/cmd/kubectl"#' \
      "$tmp/tools.go"
    minor="${kver#v1.}"; minor="${minor%%.*}"
    ld="-s -w -X k8s.io/component-base/version.gitVersion=$kver"
    ld="$ld -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
    ld="$ld -X k8s.io/component-base/version.gitTreeState=clean"
    ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=$kver"
    (cd "$tmp" && GOTOOLCHAIN=local GOFLAGS=-mod=mod "$GO" mod tidy \
      && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-trimpath -buildvcs=false -mod=readonly" \
        "$GO" build -ldflags="$ld" -o "$tmp/bin/" k8s.io/kubernetes/cmd/kubelet \
        k8s.io/kubernetes/cmd/kubectl ./pause) >&2
    mkdir -p "$out"
    mv "$tmp/bin/kubelet" "$tmp/bin/kubectl" "$tmp/bin/pause" "$out/"
    rm -rf "$tmp"
  fi
  echo "$out"
}

# The pod sandbox image: a static Go pause, as a local image (nothing can be pulled here).
pause_source() {
  mkdir -p "$1/pause"
  cat > "$1/pause/main.go" <<'EOF'
// pause: PID 1 of a pod sandbox; reaps children, exits on SIGINT/SIGTERM.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
EOF
}

up() {
  local kubeconfig="$1" bin node_ip ca
  [ -r "$kubeconfig" ] || { echo "real-node.sh: no kubeconfig $kubeconfig" >&2; exit 2; }
  if kill -0 "$(cat "$DIR/kubelet.pid" 2>/dev/null)" 2>/dev/null \
      || kill -0 "$(cat "$DIR/containerd.pid" 2>/dev/null)" 2>/dev/null; then
    echo "real-node.sh: a node already runs from $DIR (real-node.sh down first)" >&2
    exit 1
  fi
  for tool in containerd runc ctr buildah ip; do
    command -v "$tool" >/dev/null || { echo "real-node.sh: $tool not found" >&2; exit 1; }
  done
  [ -x /usr/lib/cni/bridge ] || { echo "real-node.sh: install containernetworking-plugins" >&2; exit 1; }
  bin="$(build_kubelet)"
  mkdir -p "$DIR"/{containerd,cni-conf,cni-ipam,kubelet}
  ln -sfn "$bin/kubectl" "$DIR/kubectl"  # the pinned kubectl, for `down` too
  # The API server's address in the kubeconfig is loopback, the node IP must not be.
  node_ip="$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1)"
  ca="$(awk '/certificate-authority:/ {print $2; exit}' "$kubeconfig")"

  cat > "$DIR/containerd/config.toml" <<EOF
version = 2
root = "$DIR/containerd/root"
state = "$DIR/containerd/state"
[grpc]
  address = "$SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE"
  disable_apparmor = true
  # No CAP_SYS_RESOURCE: a container's oom_score_adj may not go below containerd's own.
  restrict_oom_score_adj = true
  disable_hugetlb_controller = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "$SNAPSHOTTER"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$DIR/cni-conf"
EOF
  cat > "$DIR/cni-conf/10-hs-pods.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "hs-pods", "plugins": [
  {"type": "bridge", "bridge": "hs-cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]],
            "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$DIR/cni-ipam"}}]}
EOF
  cat > "$DIR/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$SOCK
address: 127.0.0.1
port: 10350
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10358
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $ca}
authorization: {mode: AlwaysAllow}
# The sandbox mounts cgroup v1 (hybrid); v1.37's kubelet refuses v1 unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
protectKernelDefaults: false
localStorageCapacityIsolation: false
resolvConf: /etc/resolv.conf
# cadvisor cannot map the root disk (/dev/vda) to stats here: keep eviction from acting on it.
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
  setsid containerd --config "$DIR/containerd/config.toml" >"$DIR/containerd.log" 2>&1 &
  echo $! > "$DIR/containerd.pid"
  for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.2; done
  if ! "${CTR[@]}" images ls -q | grep -xF "$PAUSE" >/dev/null; then
    printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' > "$DIR/Containerfile"
    cp "$bin/pause" "$DIR/pause"
    local store=(--root "$DIR/pause-store" --runroot "$DIR/pause-run" --storage-driver vfs)
    buildah "${store[@]}" bud --isolation oci --runtime runc -t "$PAUSE" -f "$DIR/Containerfile" "$DIR" >&2
    buildah "${store[@]}" push "$PAUSE" "docker-archive:$DIR/pause.tar:$PAUSE" >&2
    "${CTR[@]}" images import --snapshotter "$SNAPSHOTTER" "$DIR/pause.tar" >&2
  fi
  # The kubelet authenticates with the kubeconfig's (admin) client certificate: the test API
  # server authorizes with RBAC only (no Node authorizer, no bootstrap tokens).
  setsid "$bin/kubelet" --config="$DIR/kubelet/config.yaml" --kubeconfig="$kubeconfig" \
    --hostname-override="$NODE" --node-ip="$node_ip" --root-dir="$DIR/kubelet/root" \
    --cert-dir="$DIR/kubelet/pki" -v=1 >"$DIR/kubelet.log" 2>&1 &
  echo $! > "$DIR/kubelet.pid"
  echo "$kubeconfig" > "$DIR/kubeconfig-path"
  for _ in $(seq 120); do
    if kubectl --kubeconfig "$kubeconfig" get node "$NODE" \
        -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -q True; then
      # The kubelet registers with the not-ready taint; the node lifecycle controller, which
      # lifts it, is off in the test control plane (its agent nodes send no heartbeats).
      kubectl --kubeconfig "$kubeconfig" taint node "$NODE" node.kubernetes.io/not-ready:NoSchedule- \
        >/dev/null 2>&1 || true
      echo "real-node.sh: node $NODE Ready (logs: $DIR/kubelet.log, $DIR/containerd.log)" >&2
      return 0
    fi
    sleep 1
  done
  echo "real-node.sh: node $NODE not Ready after 120 s; see $DIR/kubelet.log" >&2
  return 1
}

# The kubectl built with the kubelet (the pinned version), linked by `up`.
kubectl() { "$DIR/kubectl" "$@"; }

stop_pid() {  # FILE: SIGTERM the process group, then SIGKILL after 10 s
  local pid
  pid="$(cat "$1" 2>/dev/null)" || return 0
  kill -- "-$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 -- "-$pid" 2>/dev/null || true
  rm -f "$1"
}

down() {
  local kubeconfig task cg
  kubeconfig="$(cat "$DIR/kubeconfig-path" 2>/dev/null || true)"
  # Let the kubelet tear the pods down (CNI, mounts) while it still runs.
  if [ -n "$kubeconfig" ] && [ -r "$kubeconfig" ]; then
    kubectl --kubeconfig "$kubeconfig" delete pods -A --field-selector "spec.nodeName=$NODE" \
      --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
    for _ in $(seq 30); do
      [ -z "$("${CTR[@]}" tasks ls -q 2>/dev/null)" ] && break
      sleep 1
    done
  fi
  stop_pid "$DIR/kubelet.pid"
  # Whatever is left: kill and delete each task and container (their shims then exit).
  for task in $("${CTR[@]}" tasks ls -q 2>/dev/null); do
    "${CTR[@]}" tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
  done
  sleep 1
  for task in $("${CTR[@]}" tasks ls -q 2>/dev/null); do
    "${CTR[@]}" tasks delete -f "$task" >/dev/null 2>&1 || true
  done
  for task in $("${CTR[@]}" containers ls -q 2>/dev/null); do
    "${CTR[@]}" containers delete "$task" >/dev/null 2>&1 || true
  done
  stop_pid "$DIR/containerd.pid"
  # Leftovers: kubelet volume mounts, sandbox netns/shm mounts, pod cgroups, the bridge.
  grep -o " $DIR/[^ ]*" /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  for cg in /sys/fs/cgroup/*/kubepods; do
    if [ -d "$cg" ]; then find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
  ip link del hs-cni0 2>/dev/null || true
  # containerd made /run/netns a (shared) bind mount of itself; undo it if no netns is left.
  if mountpoint -q /run/netns && [ -z "$(ls -A /run/netns)" ]; then umount /run/netns || true; fi
  if [ -n "$kubeconfig" ]; then
    kubectl --kubeconfig "$kubeconfig" delete node "$NODE" --wait=false >/dev/null 2>&1 || true
  fi
  echo "real-node.sh: node stopped (state kept in $DIR)" >&2
}

load() {  # unpacked for the snapshotter the running containerd was configured with
  # An archive of build-images.sh (NAME-KEY.tar, holding localhost/hypersearch/NAME:dev) is
  # also tagged localhost/hypersearch/NAME:KEY, and skipped when that tag is already here
  # (containerd's store in $DIR outlives `down`, so a warm machine imports nothing).
  local snap base name key ref
  snap="$(awk -F'"' '/^ *snapshotter = / {print $2; exit}' "$DIR/containerd/config.toml")"
  base="$(basename "$1" .tar)"
  name="${base%-*}" key="${base##*-}"
  ref="localhost/hypersearch/$name:$key"
  # (grep without -q: with pipefail, -q's early exit can fail ctr with SIGPIPE, i.e. "absent")
  if [ "$name" != "$base" ] && "${CTR[@]}" images ls -q | grep -xF "$ref" >/dev/null; then
    echo "real-node.sh: $ref already loaded" >&2
    return 0
  fi
  "${CTR[@]}" images import --snapshotter "${snap:-$SNAPSHOTTER}" "$1"
  if [ "$name" != "$base" ]; then
    "${CTR[@]}" images tag --force "localhost/hypersearch/$name:dev" "$ref" >/dev/null
    echo "real-node.sh: loaded $ref" >&2
  fi
}

case "${1:-}" in
  up) up "${2:?usage: $0 up KUBECONFIG}" ;;
  down) down ;;
  load) load "${2:?usage: $0 load IMAGE.tar}" ;;
  kubelet | bin) build_kubelet ;;
  *) sed -n '2,18p' "$0"; exit 2 ;;
esac
