"""Issue 16, lead 1 as whole searches: methods with a transfer rank on the transformed stage-1
runs, are charged what those runs cost, and hand the untransformed configurations to stage 2
(costed from the plain full-data runs)."""

from __future__ import annotations

import numpy as np
import pytest
from hypersearch.bench import methods as m
from hypersearch.bench import search_quality as sq
from hypersearch.bench.groundtruth import GroundTruth, configurations

from tests.bench.test_search_quality import T, synthetic_run

RATES = (0.05, 0.2)
N = 12
VARIANT = "batch"


def worlds() -> m.Runs:
    """Full data ranks configuration 0 best, 11 worst. The plain stage-1 runs rank them the
    other way round (11 best); the transformed ones rank them as full data does and cost about
    three times as much (three times the training examples: the full run's updates)."""
    rng = np.random.default_rng(0)
    runs, swapped = {}, {}
    level = 0.40 + 0.002 * np.arange(N)
    for c in range(N):
        noise = rng.normal(0, 1e-5, T)
        runs[(c, 1.0)] = synthetic_run(level[c] + noise, np.full(T, 1000.0), c)
        for rate in RATES:
            plain = 0.40 + 0.002 * (N - 1 - c)
            runs[(c, rate)] = synthetic_run(plain + noise, np.full(T, 1000.0 * rate), c)
            swapped[(c, rate)] = synthetic_run(
                level[c] + 0.01 + noise, np.full(T, 3000.0 * rate), c
            )
    return m.Runs(runs, 7, transfers={VARIANT: swapped})


@pytest.fixture(scope="module")
def runs() -> m.Runs:
    return worlds()


def test_the_view_swaps_stage_one_only(runs: m.Runs) -> None:
    view = runs.transferred(VARIANT)
    for c in range(N):
        assert view.runs[(c, 1.0)] is runs.runs[(c, 1.0)]
        for rate in RATES:
            assert view.runs[(c, rate)] is runs.transfers[VARIANT][(c, rate)]
    assert view.transfers == {}


def test_two_step_with_transfer_ranks_and_pays_the_transformed_runs(runs: m.Runs) -> None:
    subset = list(range(N))
    rng = np.random.default_rng(0)
    rate = RATES[0]
    out = m.with_transfer(m.two_step(rate), VARIANT)(runs, subset, rng)
    plain = m.two_step(rate)(runs, subset, rng)
    # Stage 1 on the transformed curves: configuration 0 first (plain: 11 first).
    assert out.ranking[:3] == [0, 1, 2]
    assert plain.ranking[:3] == [11, 10, 9]
    # Charged what the transformed runs cost, not the plain ones.
    swapped = runs.transfers[VARIANT]
    assert out.stage1.cpu == pytest.approx(sum(swapped[(c, rate)].cpu_total for c in subset))
    assert out.stage1.examples == pytest.approx(
        sum(swapped[(c, rate)].trained.sum() for c in subset)
    )
    assert out.stage1.cpu > plain.stage1.cpu * 1.05
    # The scores name the untransformed configurations (their indices).
    assert set(out.scores) == set(subset)


def test_search_quality_rows_with_transfer(runs: m.Runs) -> None:
    rows = {r.name: r for r in sq.evaluate(runs, N, 9, 4, 0, None)}
    rate = RATES[0]
    name = f"two-step s={rate:g}{sq.TRANSFER_TAG}{VARIANT}"
    ladder = f"rate-halving {'/'.join(f'{r:g}' for r in RATES)}{sq.TRANSFER_TAG}{VARIANT}"
    assert sq.is_ours(name) and sq.is_ours(ladder)
    with_transfer, plain = rows[name], rows[f"two-step s={rate:g}"]
    # Stage 1 ranks by the transformed runs (the full-data order: no regret), the plain runs
    # reverse it (regret on every subset).
    assert max(with_transfer.regret[3]) == pytest.approx(0.0, abs=1e-9)
    assert min(plain.regret[3]) > 0.1
    assert max(rows[ladder].regret[3]) == pytest.approx(0.0, abs=1e-9)
    swapped = runs.transfers[VARIANT]
    for i, (subset, _) in enumerate(sq.draw_subsets(N, 9, 4, 0)):
        stage1 = sum(swapped[(c, rate)].cpu_total for c in subset)
        assert with_transfer.stage1_cpu[i] == pytest.approx(stage1)
        # Stage 2: the plain full-data runs of the top 3 (the subset's 3 best in truth).
        top = sorted(subset)[:3]
        stage2 = sum(runs.runs[(c, 1.0)].cpu_total for c in top)
        assert with_transfer.cpu[i] == pytest.approx(stage1 + stage2)
    # Without transfers, no such method (the default benchmark is unchanged).
    bare = m.Runs(runs.runs, runs.eval_windows)
    assert not any(sq.TRANSFER_TAG in n for n in sq.method_table(RATES, T))
    assert not any(sq.TRANSFER_TAG in r.name for r in sq.evaluate(bare, N, 9, 1, 0, None))


def test_transfer_ground_truth_is_the_transfer_bench_cache() -> None:
    """``--transfers`` reads the runs ``python -m hypersearch.bench.transfer`` wrote: the same
    transformed configurations, so the same cache key, one ground truth per stage-1 rate."""
    from hypersearch.bench.groundtruth import SPACE
    from hypersearch.bench.transfer import VARIANTS

    configs = configurations(4)
    gt = GroundTruth("flights-3m", configs, (1.0, 0.01, 0.1), stop=28)
    truths = sq.transfer_truths(gt, ["batch+sqrt-lr"])["batch+sqrt-lr"]
    assert [t.rates for t in truths] == [(0.01,), (0.1,)]
    for t, rate in zip(truths, (0.01, 0.1), strict=True):
        policy = VARIANTS["batch+sqrt-lr"]
        assert t.configs == [policy.apply(c, SPACE, rate).params for c in configs]
        assert t.configs != configs
        assert (t.dataset, t.stop, t.eval_windows) == (gt.dataset, gt.stop, gt.eval_windows)
