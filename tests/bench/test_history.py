"""Issue 16, lead 3 in the search-quality replay: earlier searches are the cached runs cut at
earlier horizons (leave-future-out: nothing at or after a judged search's horizon is seen), and
the history method fixes a stage-1 bias that stays put from one search to the next."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypersearch.bench import methods as m
from hypersearch.bench import search_quality as sq
from hypersearch.bench.groundtruth import configurations

from tests.bench.test_search_quality import T, synthetic_run

N = 16
RATE = 0.03


def biased_runs(seed: int = 5) -> tuple[m.Runs, np.ndarray]:
    """N configurations of the benchmark's space on a drifting stream: each window's full-data
    metric = drift + quality + noise; a ``RATE`` run over-rates high learning rates by a fixed
    amount (its metric = full - 0.03 * log-lr position + 0.05), at every horizon; the best
    configuration has the lowest learning rate."""
    rng = np.random.default_rng(seed)
    configs = configurations(N, seed)
    lr = np.array([np.log(float(c["lr"]) / 0.003) / np.log(100.0) for c in configs])
    quality = rng.uniform(0.38, 0.40, N)
    quality[np.argmin(lr)] = 0.375  # the best has the lowest learning rate: stage 1 under-rates it
    drift = 0.02 * np.sin(np.arange(T) / 6.0)
    out = {}
    for i in range(N):
        full = drift + quality[i] + rng.normal(0, 1e-4, T)
        low = full - 0.03 * lr[i] + 0.05 + rng.normal(0, 1e-4, T)
        out[(i, 1.0)] = synthetic_run(full, np.full(T, 1000.0), i)
        out[(i, RATE)] = synthetic_run(low, np.full(T, 1000.0 * RATE), i)
    params = {i: dict(c) for i, c in enumerate(configs)}
    return m.Runs(out, 7, params=params), quality


def test_until_is_the_run_cut_at_the_horizon() -> None:
    runs, _ = biased_runs()
    run = runs.runs[(0, 1.0)]
    cut = run.until(20)
    assert cut.windows == 20
    assert cut.target(7) == pytest.approx(float(run.logloss[13:20].mean()))
    assert cut.cpu_until(20) == pytest.approx(run.cpu_until(20))
    assert cut.cpu_until(20) < run.cpu_until(T)
    assert run.until(T) is run
    assert runs.until(20).windows == 20


def test_earlier_searches_never_see_the_judged_horizon() -> None:
    """Changing every run after the last earlier horizon changes no earlier search."""
    runs, _ = biased_runs()
    subset = list(range(12))
    before = m.earlier_searches(runs, subset, RATE, known="all")
    assert [s.horizon for s in before] == list(range(T - 7 * (len(before)), T, 7))
    assert before[0].horizon >= 14 and before[-1].horizon == T - 7
    cut = T - 7
    future = {
        k: dataclasses.replace(t, logloss=np.where(np.arange(T) >= cut, 9.0, t.logloss))
        for k, t in runs.runs.items()
    }
    after = m.earlier_searches(dataclasses.replace(runs, runs=future), subset, RATE, known="all")
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a.stage1, b.stage1)
        np.testing.assert_array_equal(a.full, b.full)
    # A search knows the full-data target of the k it trained in full (stage 2) only.
    stage2 = m.earlier_searches(runs, subset, RATE, known="stage2", k=3)
    assert all(int(np.isfinite(s.full).sum()) == 3 for s in stage2)
    with pytest.raises(ValueError):
        m.earlier_searches(runs, subset, RATE, known="some")


def test_history_fixes_a_lasting_stage1_bias_at_two_steps_cost() -> None:
    runs, quality = biased_runs()
    subset = list(range(N))
    best = quality.min()
    two = m.two_step(RATE)(runs, subset, np.random.default_rng(0))
    weights: list[float] = []
    hist = m.history(RATE, known="all", weights=weights)(runs, subset, np.random.default_rng(0))
    assert weights and weights[0] > 0.5
    assert hist.stage1 == two.stage1  # the earlier searches are not charged: they ran anyway
    assert quality[two.ranking[0]] > best  # two-step misses the best ...
    assert quality[hist.ranking[0]] == best  # ... which history puts first


def test_history_methods_are_in_the_table() -> None:
    table = sq.method_table([0.01, 0.1], 28)
    assert {"history s=0.01", "history s=0.1, earlier full searches"} <= set(table)
    assert sq.is_ours("history s=0.01")
    assert not any(name.startswith("history") for name in sq.method_table([0.01], 20))


def test_the_paired_report() -> None:
    from hypersearch.bench import history as report

    runs, _ = biased_runs()
    groups = report.subsets(N, 12, 3, 0)
    assert groups == report.subsets(N, 12, 3, 0) and len(groups) == 3
    assert report.noise_floor(runs, list(range(N))) == 1
    text = report.report(runs, [RATE], groups)
    assert "Noise floor: 1 of 16" in text
    assert text.count(f"| {RATE:g} |") == len(report.VARIANTS)
