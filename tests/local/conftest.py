"""Helpers for local-mode tests: manifests around the fake trainer or the real one on tiny data."""

from __future__ import annotations

import copy
import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

HERE = Path(__file__).parent
REPO = HERE.parents[1]
FAKE = HERE / "fake_trainer.py"


def fake_manifest(name: str, trials: int = 6, **changes: Any) -> dict[str, Any]:
    """A search over x in [0, 1] on the fake trainer (best x is 0.3), fast intervals."""
    doc: dict[str, Any] = {
        "apiVersion": "hypersearch.dev/v1alpha1",
        "kind": "HyperSearch",
        "metadata": {"name": name},
        "spec": {
            "objective": {"metric": "logloss", "goal": "minimize", "evaluationWindows": 3},
            "stream": {"windows": 24},
            "seed": 3,
            "parameters": [{"name": "x", "type": "double", "min": 0.0, "max": 1.0}],
            "sampler": {"name": "grid", "gridPoints": trials},
            "trials": trials,
            "parallelism": 2,
            "maxFailedTrials": 3,
            "stage1": {
                "data": {"rate": 0.25},
                "stopping": {"rule": "performance", "rungs": [8, 16], "eta": 2,
                             "minCohort": 3, "compareWindows": 3},
            },
            "stage2": {"topK": 1},
            "metrics": {"intervalSeconds": 0.1, "timeoutSeconds": 1, "maxFailures": 5},
            "trialTemplate": {"spec": {"containers": [{
                "name": "trainer",
                "command": ["python", str(FAKE)],
                "env": [{"name": "HS_FAKE_STEP", "value": "0.05"}],
            }]}},
        },
    }  # fmt: skip
    for key, value in changes.items():
        doc["spec"][key] = value
    return doc


def set_env(doc: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    env = doc["spec"]["trialTemplate"]["spec"]["containers"][0].setdefault("env", [])
    env[:] = [e for e in env if e["name"] != name] + [{"name": name, "value": value}]
    return doc


def write_manifest(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hypersearch", *args],
        capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO,
    )  # fmt: skip


def start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hypersearch", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
    )  # fmt: skip


def read_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((state_dir / "state.json").read_text())
        return data
    except (OSError, ValueError):
        return None


def wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


@pytest.fixture(autouse=True, scope="package")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Prepared data of the tests' throwaway datasets goes to a temporary cache, not the user's
    (for these tests only: the variable is restored when the package's tests end)."""
    before = os.environ.get("HYPERSEARCH_CACHE")
    os.environ["HYPERSEARCH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        del os.environ["HYPERSEARCH_CACHE"]
    else:
        os.environ["HYPERSEARCH_CACHE"] = before


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 days x 300 rows of a drifting CSV stream, described by a dataset YAML."""
    d = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    with open(d / "tiny.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["ts", "a", "b", "x", "y"])
        for day in range(12):
            for i in range(300):
                a, b, x = rng.integers(0, 5), rng.integers(0, 7), rng.normal()
                z = 0.5 * a - 1 + x * (1 if day < 6 else -1) + 0.2 * b - 0.6
                y = int(rng.random() < 1 / (1 + np.exp(-z)))
                w.writerow(
                    [1_000_000_000 + day * 86400 + i * 200, f"a{a}", f"b{b}", round(x, 3), y]
                )
    (d / "tiny.yaml").write_text(
        "name: tiny\npath: tiny.csv\ntimestamp: ts\nwindow: 1d\nlabel: y > 0\n"
        "categorical: [a, b]\nnumeric: [x]\nstratum: a\n"
    )
    return d / "tiny.yaml"
