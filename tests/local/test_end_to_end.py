"""The main job path with the real reference trainer on tiny data: run, winners, report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.local.conftest import REPO, run_cli, write_manifest


def quickstart_reduced(dataset: Path) -> dict:
    """manifests/examples/quickstart.yaml on a 12-day dataset with 5 trials."""
    doc = yaml.safe_load((REPO / "manifests/examples/quickstart.yaml").read_text())
    spec = doc["spec"]
    spec["stream"]["windows"] = 12
    spec["objective"]["evaluationWindows"] = 3
    spec["trials"] = 5
    spec["stage1"]["data"]["rate"] = 0.3
    spec["stage1"]["predictor"]["recentWindows"] = 3
    spec["metrics"]["intervalSeconds"] = 0.2
    env = spec["trialTemplate"]["spec"]["containers"][0]["env"]
    for e in env:
        if e["name"] == "HS_DATASET":
            e["value"] = str(dataset)
    return doc


def test_quickstart_path_with_the_real_trainer(tmp_path: Path, tiny_dataset: Path) -> None:
    manifest = write_manifest(tmp_path / "quickstart.yaml", quickstart_reduced(tiny_dataset))
    out = tmp_path / "results"
    done = run_cli("run", str(manifest), "--state-dir", str(out), timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Succeeded" in done.stdout
    assert re.search(r"1\. quickstart-\d{3}\s+0\.\d+", done.stdout), done.stdout
    assert re.search(r"^compute: [\d.,]+ CPU-s, .*; examples [\d.,M]+, [\d.]+x less$", done.stdout,
                     re.M), done.stdout  # fmt: skip

    results = json.loads((out / "results.json").read_text())
    assert results["phase"] == "Succeeded"
    assert len(results["stage2"]) == 2
    assert all(r["final"] is not None for r in results["stage2"])
    cost = results["cost"]
    assert cost["stage2Examples"] > 0
    # The reference trainer exports its CPU-seconds; the full-data stage-2 runs are the baseline.
    assert cost["computeSource"] == {"trainer": len(results["trials"])}, cost
    assert all(t["cpuSeconds"] > 0 and t["computeSource"] == "trainer" for t in results["trials"])
    assert cost["fullRunComputeSource"] == "median of 2 completed full-data runs (stage 2)"
    assert cost["reduction"] is not None and cost["examplesReduction"] > 1
    for t in results["trials"]:
        assert t["trajectory"], t["name"]
        assert t["reason"], t["name"]
    s1 = [t for t in results["trials"] if t["stage"] == 1]
    assert all(t["predicted"] is not None for t in s1 if t["state"] != "Failed")

    # The report renders from the results directory alone, and links its plots.
    for png in (out / "plots").glob("*.png"):
        png.unlink()
    (out / "report.html").unlink()
    rendered = run_cli("report", str(out))
    assert rendered.returncode == 0, rendered.stderr
    html = (out / "report.html").read_text()
    for name in ("trajectories.png", "predicted_vs_observed.png", "cost.png"):
        png = out / "plots" / name
        assert png.is_file() and png.stat().st_size > 10_000, name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"plots/{name}" in html
    assert "results.json" in html


def test_invalid_manifest_and_state_dir_conflicts(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: hypersearch.dev/v1alpha1\nkind: HyperSearch\nspec: {}\n")
    r = run_cli("run", str(bad))
    assert r.returncode == 2 and "'stream' is required" in r.stderr
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "state.json").write_text("{}")
    r = run_cli(
        "run", str(REPO / "manifests/examples/quickstart.yaml"),
        "--state-dir", str(tmp_path / "used"),
    )  # fmt: skip
    assert r.returncode == 2 and "--resume" in r.stderr
    r = run_cli("report", str(tmp_path / "nothing"))
    assert r.returncode == 2 and "results.json" in r.stderr


def test_stage1_on_the_full_data_hands_its_finished_runs_to_stage2(
    tmp_path: Path, tiny_dataset: Path
) -> None:
    """Stage 1 on all data without stopping: the winners already ran fully; nothing reruns."""
    doc = quickstart_reduced(tiny_dataset)
    doc["spec"]["trials"] = 3
    doc["spec"]["stage1"]["data"]["rate"] = 1.0
    doc["spec"]["stage1"]["data"]["evalRate"] = 1.0  # a sampled target would be trained again
    doc["spec"]["stage1"]["stopping"] = {"rule": "none"}
    manifest = write_manifest(tmp_path / "full.yaml", doc)
    out = tmp_path / "results"
    done = run_cli("run", str(manifest), "--state-dir", str(out), timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["phase"] == "Succeeded"
    cost = results["cost"]
    assert cost["stage2Examples"] == 0 and cost["stage2CpuSeconds"] == 0
    assert cost["examplesReduction"] == 1.0  # every configuration trained once, fully
    stage1 = {t["name"]: t for t in results["trials"] if t["stage"] == 1}
    # ... and so was its compute: a full search's is 3 x the median run, this one's the sum.
    cpu = sorted(t["cpuSeconds"] for t in stage1.values())
    assert cost["fullRunComputeSource"] == "median of 3 completed full-data runs (stage 1)"
    assert abs(cost["reduction"] - 3 * cpu[1] / sum(cpu)) < 0.01
    stage2 = [t for t in results["trials"] if t["stage"] == 2]
    assert len(stage2) == 2
    for t in stage2:
        assert t["state"] == "Completed" and t["reason"].startswith("reused"), t
        assert t["computeSource"] == "reused" and t["cpuSeconds"] == 0
        assert t["final"] is not None
    state = json.loads((out / "state.json").read_text())
    kinds = {(name, kind) for _, name, kind, _ in state["events"]}
    for t in stage2:
        assert (t["name"], "reused") in kinds and (t["name"], "start") not in kinds
    assert all((name, "start") in kinds for name in stage1)
