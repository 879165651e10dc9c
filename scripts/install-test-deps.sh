#!/usr/bin/env bash
# What the tests need beside the product's venv: Debian's `prometheus` (the real Prometheus
# server and promtool used by tests/prometheus); for tests/install (images and a real node:
# scripts/build-images.sh, scripts/real-node.sh) buildah, runc, mmdebstrap, containerd (with
# ctr) and the CNI plugins; and moto's S3-compatible server (tests of
# prepared data on object storage) in a venv of its own, because botocore pins python-dateutil
# below the version the kubernetes client requires. Idempotent: installs only what is missing,
# so a warm machine pays nothing. Fails loudly (the tests must fail, never skip).
set -euo pipefail
HS_CACHE="${HYPERSEARCH_CACHE:-$HOME/.cache/hypersearch}"
MOTO_VERSION=5.2.5
moto_venv="$HS_CACHE/moto-$MOTO_VERSION"
if [ ! -f "$moto_venv/.complete" ]; then  # the stamp is written last: a half install is redone
  echo "install-test-deps: moto $MOTO_VERSION (S3-compatible server for tests) into $moto_venv"
  rm -rf "$moto_venv"
  python3.11 -m venv "$moto_venv" 2>/dev/null || python3 -m venv "$moto_venv"
  "$moto_venv/bin/pip" install --disable-pip-version-check -q "moto[server]==$MOTO_VERSION"
  touch "$moto_venv/.complete"
fi
missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
for tool in buildah runc mmdebstrap containerd; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
if ((${#missing[@]})); then
  echo "install-test-deps: installing ${missing[*]}"
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
  # No recommends: the node exporter and the packaged service are not needed.
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
for tool in prometheus promtool buildah runc mmdebstrap containerd ctr /usr/lib/cni/bridge; do
  command -v "$tool" >/dev/null || { echo "install-test-deps: $tool still missing" >&2; exit 1; }
done
