"""Issue 16, leads 2 and 4 in the search-quality replay: on runs with a known rank reversal
between model families, extrapolation across rates finds the best configuration that the
low-rate methods miss, and never promotes a run that diverged."""

from __future__ import annotations

import numpy as np
import pytest
from hypersearch.bench import methods as m
from hypersearch.bench import search_quality as sq
from hypersearch.bench.groundtruth import Trajectory

from tests.bench.test_search_quality import T, synthetic_run

RATES = (0.01, 0.03, 0.1)
N = 30


def reversal_runs(seed: int = 3, noise: float = 3e-4) -> tuple[m.Runs, np.ndarray]:
    """Three families on a drifting stream whose ranking reverses with data: target(s) =
    a + b * s^-c per configuration (c per family), each window's metric = drift + target +
    noise (larger at low rates); cost ~ rate x a per-family price, as the real runs'."""
    rng = np.random.default_rng(seed)
    fams = np.array(["lr", "fm", "dlrm"])[np.arange(N) % 3]
    a = np.where(fams == "lr", 0.40, np.where(fams == "fm", 0.38, 0.35)) + rng.uniform(0, 0.03, N)
    b = np.where(fams == "lr", 0.006, np.where(fams == "fm", 0.02, 0.05)) * rng.uniform(0.9, 1.1, N)
    c = np.where(fams == "lr", 0.5, np.where(fams == "fm", 0.4, 0.3))
    drift = 0.02 * np.sin(np.arange(T) / 6.0)
    price = np.where(fams == "dlrm", 3.0, np.where(fams == "fm", 2.0, 1.0))
    out = {}
    for i in range(N):
        for rate in (*RATES, 1.0):
            level = a[i] + b[i] * rate ** -c[i]
            metrics = drift + level + rng.normal(0, noise / np.sqrt(rate), T)
            out[(i, rate)] = synthetic_run(metrics, np.full(T, 1000.0 * rate * price[i]), i)
    truth = a + b
    return m.Runs(out, 7, families={i: str(f) for i, f in enumerate(fams)}), truth


def diverged(run: Trajectory) -> Trajectory:
    """``run`` with a NaN logloss on a scored window mid-stream (the run diverged there)."""
    logloss = run.logloss.copy()
    logloss[T // 2] = np.nan
    return Trajectory(logloss, run.auc, run.eval_examples, run.trained, {}, cpu=run.cpu,
                      cpu_total=run.cpu_total, exit_cpu=run.exit_cpu, eval_cpu=run.eval_cpu,
                      eval_sample=run.eval_sample)  # fmt: skip


@pytest.fixture(scope="module")
def world() -> tuple[m.Runs, np.ndarray]:
    return reversal_runs()


def test_the_world_reverses(world: tuple[m.Runs, np.ndarray]) -> None:
    runs, truth = world
    best = int(np.argmin(truth))
    assert runs.families[best] == "dlrm"
    for rate in RATES:
        order = sorted(range(N), key=lambda c: runs.target(c, rate))
        assert order.index(best) >= 5, rate  # the true best looks mediocre at every rate


def test_extrapolation_recovers_what_low_rate_rankings_miss(
    world: tuple[m.Runs, np.ndarray],
) -> None:
    runs, _ = world
    rows = {r.name: r.summary() for r in sq.evaluate(runs, N, 24, 6, 0, None)}
    extra = rows["extrapolation 0.01/0.03/0.1"]
    assert extra["regret@3"] == pytest.approx(0.0, abs=1e-9)
    for name in ("two-step s=0.1", "rate-halving 0.01/0.03/0.1", "subsample s=0.1 + constant"):
        assert rows[name]["regret@3"] > 0.5, name
        assert rows[name]["tau"] < extra["tau"], name
    # Same ladder, same rung sizes: about rate-halving's price, and far below a full search.
    halving = rows["rate-halving 0.01/0.03/0.1"]["cpu_seconds"]
    assert extra["cpu_seconds"] == pytest.approx(halving, rel=0.25)
    assert extra["reduction"] > 1.5
    # Family-aware promotion at a low rate sends each family's best to stage 2: here the
    # reversal is between families, so it finds the best too.
    assert rows["family-best s=0.1"]["regret@3"] < rows["two-step s=0.1"]["regret@3"]
    # (the same stage 1 as two-step; its stage 2 trains a pricier dlrm)
    assert rows["family-best s=0.1"]["stage1_cpu_seconds"] == pytest.approx(
        rows["two-step s=0.1"]["stage1_cpu_seconds"]
    )
    text = sq.render(sq.evaluate(runs, N, 24, 2, 0, "extrapolation"), "leads")
    assert "**extrapolation 0.01/0.03/0.1**" in text


def test_extrapolation_never_promotes_a_run_that_diverged(
    world: tuple[m.Runs, np.ndarray],
) -> None:
    runs, truth = world
    best = int(np.argmin(truth))
    for rate in RATES:  # at any one rate
        broken = m.Runs({**runs.runs, (best, rate): diverged(runs.runs[(best, rate)])},
                        7, families=runs.families)  # fmt: skip
        for method in (m.extrapolation(RATES), m.family_best(rate)):
            out = method(broken, list(range(N)), np.random.default_rng(0))
            assert best not in out.ranking[:3], rate
            assert out.ranking[-1] == best
            assert best not in out.scores
