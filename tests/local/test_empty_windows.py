"""`hypersearch run` with the real trainer on a stream with whole days missing: the days are
missing data from the trainer's endpoint through the scraper to the engine's stage-2 target."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.local.conftest import REPO, run_cli, write_manifest
from tests.trainer.test_empty_windows import gapped_stream


def test_a_search_runs_through_days_without_examples(tmp_path: Path) -> None:
    """Days 2 and 7 (the last, inside the 3-day evaluation window) have no rows. Every trial
    runs past them, none fails, and the winner's target is the mean of days 5 and 6."""
    dataset = gapped_stream(tmp_path)
    doc = yaml.safe_load((REPO / "manifests/examples/quickstart.yaml").read_text())
    spec = doc["spec"]
    spec["stream"]["windows"] = 8
    spec["objective"]["evaluationWindows"] = 3
    spec["trials"] = 3
    spec["maxFailedTrials"] = 0
    spec["stage1"]["data"] = {"rate": 0.5}
    spec["stage1"]["stopping"] = {"rule": "none"}
    spec["stage1"]["predictor"]["recentWindows"] = 3
    spec["stage2"]["topK"] = 1
    spec["metrics"]["intervalSeconds"] = 0.2
    container = spec["trialTemplate"]["spec"]["containers"][0]
    for e in container["env"]:
        if e["name"] == "HS_DATASET":
            e["value"] = str(dataset)
    manifest = write_manifest(tmp_path / "search.yaml", doc)
    out = tmp_path / "results"
    done = run_cli("run", str(manifest), "--state-dir", str(out), timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["phase"] == "Succeeded", results["reason"]
    assert not [t["reason"] for t in results["trials"] if t["state"] == "Failed"]
    stage1 = [t for t in results["trials"] if t["stage"] == 1]
    assert all(t["predicted"] is not None for t in stage1)
    for t in results["trials"]:
        assert sorted(w for w, _ in t["trajectory"]) == [0, 1, 3, 4, 5, 6], t["name"]
    # The engine's record (state.json) keeps the empty days, apart from the values.
    state = json.loads((out / "state.json").read_text())
    records = state["engine"]["trials"] if "engine" in state else state["trials"]
    assert all(r["empty"] == [[2, 3], [7, 8]] for r in records)
    (winner,) = [t for t in results["trials"] if t["stage"] == 2]
    days = dict(winner["trajectory"])
    assert winner["final"] == (days[5] + days[6]) / 2
