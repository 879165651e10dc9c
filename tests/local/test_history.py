"""``spec.stage1.history`` in local runs: two real searches on the fake trainer, the second
naming the first (by name, found in results/NAME of the directory it ran in); and every earlier
search that cannot be used refused by ``validate`` and ``run`` naming the entry, before anything
starts or is written: a missing path, another parameter space, another objective, an unfinished
search."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.local.conftest import fake_manifest, write_manifest


def hypersearch(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hypersearch", *args],
        capture_output=True, text=True, timeout=300, check=False, cwd=cwd, env=os.environ.copy(),
    )  # fmt: skip


def manifest(name: str, history: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    doc = fake_manifest(name, trials=4, **changes)
    stage1 = doc["spec"]["stage1"]
    stage1["stopping"] = {"rule": "none"}
    if history is not None:
        stage1["history"] = history
    doc["spec"]["stage2"] = {"topK": 2}
    return doc


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished first search, run from its directory without --state-dir (results/first)."""
    d = tmp_path_factory.mktemp("history")
    path = write_manifest(d / "first.yaml", manifest("first"))
    done = hypersearch(d, "run", str(path), "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (d / "results" / "first" / "results.json").is_file()
    return d


def test_second_search_learns_from_the_first_and_says_so(first: Path) -> None:
    doc = manifest("second", {"policy": "residual", "searches": [{"name": "first"}]})
    path = write_manifest(first / "second.yaml", doc)
    checked = hypersearch(first, "validate", str(path))
    assert checked.returncode == 0, checked.stderr
    assert "warning: spec.stage1.history.policy: residual" in checked.stderr
    out = first / "out-second"
    done = hypersearch(first, "run", str(path), "--state-dir", str(out), "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["phase"] == "Succeeded"
    used = results["summary"]["history"]
    assert used["policy"] == "residual" and used["searches"] == ["first"], used
    # Two full-data targets are too few rows to teach anything: the plain order, said so.
    assert used["weight"] == 0.0 and "too little history (2 rows" in used["reason"], used
    # Recorded for a third search to name this one.
    assert results["parameters"][0]["name"] == "x" and results["stage1Data"]["rate"] == 0.25
    assert results["startedAt"].endswith("Z")


def refused(d: Path, name: str, history: dict[str, Any], says: str, **changes: Any) -> None:
    """``validate`` and ``run`` both refuse, naming the entry; run starts and writes nothing."""
    path = write_manifest(d / f"{name}.yaml", manifest(name, history, **changes))
    checked = hypersearch(d, "validate", str(path))
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert says in checked.stderr, checked.stderr
    out = d / f"out-{name}"
    ran = hypersearch(d, "run", str(path), "--state-dir", str(out), "--quiet")
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert says in ran.stderr, ran.stderr
    assert not out.exists()


def test_a_missing_earlier_search_is_refused_naming_it(first: Path) -> None:
    refused(
        first,
        "missing-path",
        {"policy": "residual", "searches": [{"name": "first"}, {"results": "runs/nowhere"}]},
        "spec.stage1.history.searches[1].results (runs/nowhere): "
        f"{first / 'runs' / 'nowhere' / 'results.json'} not found",
    )
    refused(
        first,
        "missing-name",
        {"policy": "residual", "searches": [{"name": "zeroth"}]},
        "spec.stage1.history.searches[0].name (zeroth): results/zeroth/results.json not found "
        "(no earlier local run named 'zeroth'",
    )


def test_another_parameter_space_is_refused_naming_the_difference(first: Path) -> None:
    refused(
        first,
        "space",
        {"policy": "residual", "searches": [{"results": "results/first"}]},
        "spec.stage1.history.searches[0].results (results/first): parameter 'x' "
        "has bounds [0, 1], this search [0, 2]",
        parameters=[{"name": "x", "type": "double", "min": 0.0, "max": 2.0}],
    )


def test_another_objective_is_refused_naming_the_difference(first: Path) -> None:
    refused(
        first,
        "objective",
        {"policy": "residual", "searches": [{"results": "results/first/results.json"}]},
        "objective goal 'minimize', this search 'maximize'",
        objective={"metric": "logloss", "goal": "maximize", "evaluationWindows": 3},
    )


def test_an_unfinished_earlier_search_is_refused(first: Path) -> None:
    results = json.loads((first / "results" / "first" / "results.json").read_text())
    (first / "running").mkdir(exist_ok=True)
    (first / "running" / "results.json").write_text(json.dumps({**results, "phase": "Running"}))
    refused(
        first,
        "unfinished",
        {"policy": "residual", "searches": [{"results": "running"}]},
        "spec.stage1.history.searches[0].results (running): the search is not "
        "finished (phase Running)",
    )
