#!/usr/bin/env bash
# System packages the tests need that pip cannot provide: Debian's `prometheus` (the real
# Prometheus server and promtool used by tests/prometheus). Idempotent: installs only what is
# missing, so a warm machine pays nothing. Fails loudly (the tests must fail, never skip).
set -euo pipefail
missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
if ((${#missing[@]})); then
  echo "install-test-deps: installing ${missing[*]}"
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  # No recommends: the node exporter and the packaged service are not needed.
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v prometheus >/dev/null && command -v promtool >/dev/null || {
  echo "install-test-deps: prometheus/promtool still missing" >&2
  exit 1
}
