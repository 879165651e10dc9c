"""`hypersearch run` with a rate-aware transfer: the stage-1 processes receive the transformed
params (in HS_PARAM_* and in substituted args), the full-training run and every result the
configuration as it was sampled."""

from __future__ import annotations

import json
import math
from pathlib import Path

from hypersearch.local import LocalRunner, RunOptions
from hypersearch.spec import parse

from tests.local.conftest import fake_manifest, set_env


def test_stage1_processes_run_transformed_params_results_name_the_configuration(
    tmp_path: Path,
) -> None:
    doc = set_env(fake_manifest("fake-xfer", trials=4), "HS_FAKE_RECORD", "1")
    doc["spec"]["parameters"].append(
        {"name": "lr", "type": "double", "min": 0.001, "max": 0.1, "scale": "log"}
    )
    doc["spec"]["sampler"] = {"name": "random"}
    doc["spec"]["stage1"]["transfer"] = {"name": "rate-aware", "lrExponent": -0.5}
    doc["spec"]["stage1"]["stopping"] = {"rule": "none"}
    container = doc["spec"]["trialTemplate"]["spec"]["containers"][0]
    container["args"] = ["--lr={{params.lr}}"]
    out = tmp_path / "out"
    runner = LocalRunner(parse(doc), RunOptions(state_dir=out, progress=False))
    assert runner.run() == 0
    results = json.loads((out / "results.json").read_text())
    assert results["phase"] == "Succeeded"
    by_name = {t["name"]: t for t in results["trials"]}
    stage1 = [t for t in results["trials"] if t["stage"] == 1]
    for t in stage1:
        seen = json.loads((out / "trials" / t["name"] / "checkpoint" / "seen.json").read_text())
        lr = t["params"]["lr"]  # the configuration: untransformed
        ran = min(lr * 2.0, 0.1)  # 0.25**-0.5 = 2, within the parameter's max
        assert math.isclose(float(seen["env"]["lr"]), ran), (t, seen)
        assert seen["argv"] == [f"--lr={seen['env']['lr']}"]
        assert float(seen["env"]["x"]) == t["params"]["x"]  # not a parameter it transforms
        if lr * 2.0 > 0.1:
            assert "transfer clipped lr" in t["reason"], t
    (winner,) = [t for t in results["trials"] if t["stage"] == 2]
    source = by_name[results["promoted"][0]]
    assert winner["params"] == source["params"]
    seen = json.loads((out / "trials" / winner["name"] / "checkpoint" / "seen.json").read_text())
    assert seen["stage"] == "2" and float(seen["env"]["lr"]) == source["params"]["lr"]
