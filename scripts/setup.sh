#!/usr/bin/env bash
# Creates (or reuses) the shared virtual environment and installs this checkout into it.
# The venv lives outside the clone so that torch (several GB) is installed once per machine.
# Usage: source scripts/setup.sh   (exports HS_VENV and puts its bin/ first on PATH)
set -euo pipefail
HS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HS_CACHE="${HYPERSEARCH_CACHE:-$HOME/.cache/hypersearch}"
HS_VENV="${HYPERSEARCH_VENV:-$HS_CACHE/venv}"
mkdir -p "$HS_CACHE"
if [ ! -x "$HS_VENV/bin/python" ]; then
  python3.11 -m venv "$HS_VENV" 2>/dev/null || python3 -m venv "$HS_VENV"
fi
"$HS_VENV/bin/python" - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"HyperSearch needs Python 3.11+, the venv has {sys.version.split()[0]}")
PY
# Re-install only when the dependency list or its pins changed (pip would otherwise re-resolve
# every run). constraints.txt pins every dependency (scripts/lock.py writes it; the Dockerfiles
# install with it too).
stamp="$HS_VENV/.hypersearch-deps"
want="$(cat "$HS_ROOT/pyproject.toml" "$HS_ROOT/constraints.txt" | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$HS_VENV/bin/pip" install --disable-pip-version-check -q -c "$HS_ROOT/constraints.txt" \
    -e "${HS_ROOT}[trainer,dev]"
  echo "$want" > "$stamp"
else
  # Same dependencies: just point the editable install at this checkout.
  "$HS_VENV/bin/pip" install --disable-pip-version-check -q --no-deps --no-build-isolation -e "$HS_ROOT"
fi
export HS_VENV
export PATH="$HS_VENV/bin:$PATH"
