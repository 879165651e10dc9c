#!/usr/bin/env bash
# The one test command (README, .ci/run): installs everything a fresh machine lacks, then runs
# lint, type checks and the whole test suite. A missing dependency fails; nothing is skipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
echo "== lint"
ruff check .
ruff format --check . || { echo "ruff format: run 'ruff format .'"; exit 1; }
echo "== types"
mypy
echo "== test cluster binaries"
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, etcd and helm once (cached
# by version); a failed build fails the run, so cluster tests never skip.
source tests/k8s/build.sh
echo "== test system packages"
bash scripts/install-test-deps.sh  # Debian prometheus for tests/prometheus
echo "== tests"
python -m pytest "$@"
