#!/usr/bin/env bash
# The README's main job: a whole two-stage search on flights-3m on this machine, then its winners.
# Fresh clone -> results/quickstart/{results.json,report.html} in a few minutes on 2 CPU cores.
#   bash scripts/quickstart.sh            (extra arguments go to `hypersearch run`, e.g. --resume)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
python -m hypersearch_trainer.datasets fetch flights-3m
STATE_DIR="${STATE_DIR:-results/quickstart}"
if [ -f "$STATE_DIR/state.json" ] && [[ " $* " != *" --resume "* ]]; then
  echo "$STATE_DIR already holds a search: pass --resume to continue it, or remove the directory" >&2
  exit 2
fi
hypersearch run manifests/examples/quickstart.yaml --state-dir "$STATE_DIR" "$@"
# `hypersearch run` prints the winners; repeat them from the results file for scripts and CI logs.
python - "$STATE_DIR/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c = r['cost']
compute = f"{c['reduction']}x" if c.get('reduction') else f"not known ({c.get('computeNote')})"
print(f"winner: {r['winner']} (promoted: {', '.join(r['promoted'])}); "
      f"compute reduction {compute} ({c['computeUnit']}), examples reduction {c['examplesReduction']}x; "
      f"report: {sys.argv[1].rsplit('/', 1)[0]}/report.html")
PY
