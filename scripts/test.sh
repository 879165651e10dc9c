#!/usr/bin/env bash
# The one test command (README, .ci/run): installs everything a fresh machine lacks, then runs
# lint, type checks and the whole test suite. A missing dependency fails; nothing is skipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
echo "== test system packages"
bash scripts/install-test-deps.sh  # prometheus, buildah, runc, mmdebstrap, containerd, CNI
images_pid=""
if [ "$#" -eq 0 ]; then
  # The whole suite: tests/install needs both images. A brand-new machine builds them (minutes,
  # mostly downloads and file copies) while lint, mypy and the Go build below use the CPUs; the
  # install tests' fixture then finds them cached. Its own job control group, so an early exit
  # stops the whole build; a failed build fails the run here, with its log.
  images_log="$(mktemp)"
  set -m
  bash scripts/build-images.sh operator trainer --archive >"$images_log" 2>&1 &
  images_pid=$!
  set +m
  trap '[ -z "$images_pid" ] || kill -- "-$images_pid" 2>/dev/null || true' EXIT
fi
echo "== lint"
ruff check .
ruff format --check . || { echo "ruff format: run 'ruff format .'"; exit 1; }
echo "== types"
mypy
echo "== test cluster binaries"
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, etcd and helm once (cached
# by version); a failed build fails the run, so cluster tests never skip.
source tests/k8s/build.sh
if [ -n "$images_pid" ]; then
  echo "== images (scripts/build-images.sh, started before the lint)"
  status=0
  wait "$images_pid" || status=$?
  images_pid=""
  if [ "$status" -ne 0 ]; then
    cat "$images_log"
    echo "scripts/build-images.sh operator trainer --archive failed (exit $status)"
    exit 1
  fi
  grep -E 'built in|is cached' "$images_log" || true
  rm -f "$images_log"
fi
echo "== tests"
python -m pytest "$@"
