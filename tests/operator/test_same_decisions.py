"""One recording, three executors, the same decisions.

The replay executor, the local runner (real processes) and the operator (real pods on the test
control plane) run the same search over the same recorded trajectories; every trial must end in
the same state with the same reason, and the same winner must be chosen. The recorded trainer
reveals one window per scrape, which is what the replay feeds per tick, so any difference is a
difference in how the executors hand reports to the engine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from hypersearch.local.runner import LocalRunner, RunOptions
from hypersearch.replay import Curve, replay
from hypersearch.spec import parse
from hypersearch.spec.model import DataRange, ParamValue
from kubernetes import client

from tests.cluster import Cluster
from tests.operator.conftest import GROUP, VERSION, create_search, trials, wait_phase

TRAINER = Path(__file__).with_name("recorded_trainer.py")
CONFIGS = ["a", "b", "c", "d", "e", "f"]
WINDOWS = 12


def recording() -> dict[str, list[float]]:
    """Learning curves that cross: some configurations start well and end badly."""
    rng = np.random.default_rng(7)
    out: dict[str, list[float]] = {}
    for i, name in enumerate(CONFIGS):
        start, end = 1.0 + 0.1 * rng.random(), 0.4 + 0.08 * ((i * 5) % 6)
        pace = 0.2 + 0.5 * rng.random()
        for rate in (0.5, 1.0):
            w = np.arange(WINDOWS)
            curve = end + (start - end) * np.exp(-pace * rate * (w + 1))
            curve += 0.01 * rng.standard_normal(WINDOWS)
            out[f"{name}@{rate:g}"] = [round(float(v), 6) for v in curve]
    return out


def manifest(path: Path) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "HyperSearch",
        "metadata": {"name": "same"},
        "spec": {
            "objective": {"metric": "logloss", "goal": "minimize", "evaluationWindows": 3},
            "stream": {"windows": WINDOWS},
            "parameters": [{"name": "config", "type": "categorical", "values": CONFIGS}],
            "sampler": {"name": "grid"},
            "trials": len(CONFIGS),
            "parallelism": 1,
            "stage1": {
                "data": {"rate": 0.5},
                "stopping": {"rule": "performance", "rungs": [4, 8], "eta": 2, "minCohort": 2,
                             "compareWindows": 3},
                "predictor": {"name": "constant", "recentWindows": 3},
            },
            "stage2": {"topK": 1},
            "metrics": {"intervalSeconds": 0.5, "timeoutSeconds": 10, "maxFailures": 10},
            "trialTemplate": {"spec": {"containers": [{
                "name": "trainer", "image": "example/recorded:1",
                "command": [sys.executable, str(TRAINER)],
                "env": [{"name": "HS_RECORDING", "value": str(path)}],
            }]}},
        },
    }  # fmt: skip


def decisions(states: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    return dict(sorted(states.items()))


def test_replay_local_runner_and_operator_decide_alike(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any, tmp_path: Path
) -> None:
    record = recording()
    path = tmp_path / "recording.json"
    path.write_text(json.dumps(record))
    doc = manifest(path)
    spec = parse(doc)

    def curves(params: dict[str, ParamValue], data: DataRange) -> Curve:
        values = np.array(record[f"{params['config']}@{data.rate:g}"][data.start : data.stop])
        return Curve(values, np.full(values.size, round(1000 * data.rate), dtype=float))

    replayed = replay(spec, curves).search
    expected = decisions({t.name: (t.state.value, t.reason) for t in replayed.trials})
    assert any(state == "Stopped" for state, _ in expected.values()), expected  # not trivial
    assert replayed.phase == "Succeeded"

    runner = LocalRunner(spec, RunOptions(state_dir=tmp_path / "local", progress=False))
    assert runner.run() == 0
    local = decisions({t.name: (t.state.value, t.reason) for t in runner.search.trials})
    assert local == expected

    operator_factory()
    create_search(k8s, namespace, doc)
    status = wait_phase(cluster, k8s, namespace, "same", ("Succeeded", "Failed", "Invalid"))
    assert status["status"]["phase"] == "Succeeded", status["status"].get("reason")
    cluster_states = decisions({
        t["metadata"]["name"]: (t["status"]["state"], t["status"]["reason"])
        for t in trials(k8s, namespace)
    })  # fmt: skip
    assert cluster_states == expected
    winner = replayed.trials[replayed.winner or 0].name
    assert status["status"]["winner"] == winner
