"""The search-quality benchmark: its accounting on synthetic runs, and the quick run for real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypersearch.bench import methods as m
from hypersearch.bench import search_quality as sq
from hypersearch.bench.groundtruth import Trajectory
from hypersearch.spec.model import DataRange

from tests.engine.synthetic import make_world

N, T = 24, 60


@pytest.fixture(scope="module")
def runs() -> m.Runs:
    world = make_world(N, T, seed=5)
    out = {}
    for c in range(N):
        for rate in (1.0, 0.05, 0.2):
            metrics, trained = world.curve(c, DataRange(0, T, rate))
            out[(c, rate)] = Trajectory(metrics, np.zeros(T), np.ones(T), trained, {})
    # One configuration diverged: no finite metric at all.
    nan = np.full(T, np.nan)
    out[(7, 1.0)] = Trajectory(nan, nan, np.ones(T), np.zeros(T), {})
    return m.Runs(out, 7)


def test_accounting_of_the_reference_methods(runs: m.Runs) -> None:
    rows = {r.name: r.summary() for r in sq.evaluate(runs, N, 18, 3, 0, None)}
    full = rows["full search"]
    assert (
        full["reduction"] == pytest.approx(1.0) and full["regret@1"] == 0.0 and full["tau"] == 1.0
    )
    # random-k trains only its k picks: reduction = subset / k exactly.
    assert rows["random-k"]["reduction"] == pytest.approx(18 / sq.STAGE2_K, rel=0.02)
    for name, s in rows.items():
        assert s["reduction"] > 0, name
        assert s["regret@1"] >= s["regret@3"] >= s["regret@5"] >= 0, name
    # Cheaper data means cheaper stage 1.
    assert rows["two-step s=0.05"]["reduction"] > rows["two-step s=0.2"]["reduction"]
    assert rows["prefix t=8"]["reduction"] > rows["prefix t=30"]["reduction"]
    # The diverged configuration counts as the worst: a full search ranks it last.
    outcome = m.full_search(runs, list(range(N)), np.random.default_rng(0))
    assert 7 in outcome.ranking[-2:] and runs.target(7) == max(runs.target(c) for c in range(N))


def test_rendered_table_names_every_method_and_the_verdict(runs: m.Runs, tmp_path: Path) -> None:
    rows = sq.evaluate(runs, N, 12, 2, 1, "asha")
    text = sq.render(rows, "synthetic")
    assert "| full search |" in text and "asha (full data)" in text
    assert "At mean regret@3 ≤ 0.1%" in text
    sq.plot(rows, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 10_000


def test_quick_benchmark_on_real_trainer_runs(tmp_path: Path) -> None:
    """`hypersearch bench search-quality --quick`: real trainer runs on flights-3m (fetched with
    npm on first use, cached), every method replayed, the table printed."""
    fetch = subprocess.run(
        [sys.executable, "-m", "hypersearch_trainer.datasets", "fetch", "flights-3m"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert fetch.returncode == 0, fetch.stderr
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hypersearch",
            "bench",
            "search-quality",
            "--quick",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| full search | 1.0 ± 0.0 | 0.000" in result.stdout
    for method in (
        "optuna WilcoxonPruner",
        "hyperband (full data)",
        "subsample s=0.05 + trajectory",
    ):
        assert method in result.stdout
    assert (out / "search-quality.png").stat().st_size > 10_000
    assert (out / "search-quality.json").exists()
