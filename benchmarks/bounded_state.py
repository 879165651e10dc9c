"""Sizes that grow with windows x strata (issue 13, "bounded state"): the largest Trial status,
the trainer's /metrics body and the local ``state.json`` (size and write time).

    PYTHONPATH=operator:trainer_image:. python benchmarks/bounded_state.py [--windows 365] [--strata 32]

A stage-1 search of 8 trials with the stratified predictor observes every window of the stream
with ``--strata`` strata per window (no trial is stopped: the worst case for the record).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for p in (REPO, REPO / "operator", REPO / "trainer_image"):
    sys.path.insert(0, str(p))

from hypersearch.engine import Search, TrialReport, WindowStat  # noqa: E402
from hypersearch.kube.state import trial_status  # noqa: E402
from hypersearch.report.files import write_json_atomic  # noqa: E402
from hypersearch.spec import parse  # noqa: E402


def spec_doc(windows: int, trials: int) -> dict[str, Any]:
    from tests.operator.conftest import tiny_search

    doc = tiny_search(
        "bench",
        stream={"windows": windows},
        trials=trials,
        parallelism=trials,
        stage1={
            "data": {"rate": 0.5},
            "stopping": {"rule": "none"},
            "predictor": {"name": "stratified", "recentWindows": 7},
        },
    )
    return doc


def window(rng: random.Random, w: int, strata: int, quality: float) -> WindowStat:
    parts = {
        f"s{k:02d}": (
            0.4 + quality + 0.05 * rng.random() + 0.001 * w / 365,
            float(rng.randint(50, 400)),
        )
        for k in range(strata)
    }
    n = sum(c for _, c in parts.values())
    return WindowStat(sum(v * c for v, c in parts.values()) / n, n, parts)


def search_with_windows(windows: int, strata: int, trials: int = 8, seed: int = 1) -> Search:
    search = Search(parse(spec_doc(windows, trials)))
    search.step()
    running = [t.id for t in search.trials]
    for w in range(windows):
        reports = {
            tid: TrialReport(
                position=w + 1.0,
                examples=1000.0 * (w + 1),
                windows={
                    v: window(random.Random(seed * 1000 + tid * 7919 + v), v, strata, 0.01 * tid)
                    for v in (w,)
                },
            )
            for tid in running
        }
        search.observe_all(reports)
    return search


def trainer_body(windows: int, strata: int) -> bytes:
    from hypersearch_trainer.exporter import TrainerMetrics
    from hypersearch_trainer.metrics import StratumResult, WindowResult
    from prometheus_client import CollectorRegistry, generate_latest

    m = TrainerMetrics(windows_total=windows)
    for w in range(windows):
        st = {f"s{k:02d}": StratumResult(200, 90.0, 0.45, 0.71) for k in range(strata)}
        m.add_window(
            WindowResult(w, f"w{w}", 200 * strata, 50, 90.0 * strata, 0.45, 0.71, strata=st)
        )
    reg = CollectorRegistry(auto_describe=False)
    reg.register(m)
    return generate_latest(reg)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", type=int, default=365)
    ap.add_argument("--strata", type=int, default=32)
    ap.add_argument("--trials", type=int, default=8)
    a = ap.parse_args()
    search = search_with_windows(a.windows, a.strata, a.trials)
    largest = max(len(json.dumps(trial_status(t))) for t in search.trials)
    body = trainer_body(a.windows, a.strata)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "state.json"
        t0 = time.perf_counter()
        for _ in range(5):  # as the local runner's save(): the engine state, then the file
            write_json_atomic(path, {"engine": search.to_state()}, indent=None)
        write_s = (time.perf_counter() - t0) / 5
        size = path.stat().st_size
    print(f"windows={a.windows} strata={a.strata} trials={a.trials}")
    print(f"largest Trial status JSON: {largest:,} bytes ({largest / 1024:.1f} KiB)")
    print(f"trainer /metrics body: {len(body):,} bytes ({len(body) / 1024:.1f} KiB)")
    print(f"local state.json: {size:,} bytes, written in {write_s * 1000:.1f} ms")


if __name__ == "__main__":
    main()
