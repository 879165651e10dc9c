"""Windows without examples (an outage, a holiday, a quiet hour) are missing data to the engine.

A trial reports such a window as empty, never as a value: it is a hole in the trial's row. The
predictors, the stopping rules and the stage-2 target skip it, a window empty for everyone
fails no trial and leaves every trial rankable, and positions still advance past it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypersearch.engine import Search, TrialReport, TrialState, WindowStat
from hypersearch.engine.observations import report_problem
from hypersearch.engine.stopping import AshaStopping, Rung
from hypersearch.replay import Curve, replay
from hypersearch.spec.model import DataRange, ParamValue

from tests.engine.synthetic import make_world, search_spec
from tests.engine.test_predictors import SLOW_A, SLOW_B, context, curves, make_predictor

N, T = 12, 40
EMPTY = (10, 11, 37)  # two days in the middle, one in the evaluation window (the last 7)


def with_empty_windows(world_curves, empty: tuple[int, ...]):  # type: ignore[no-untyped-def]
    """The world's curves with ``empty`` windows holding no example: no metric, nothing scored,
    nothing trained (as the reference trainer sees a day without rows)."""

    def curves_of(params: dict[str, ParamValue], data: DataRange) -> Curve:
        base = world_curves(params, data)
        metrics, trained = base.metrics.copy(), base.examples.copy()
        scored = np.full(metrics.size, 1000.0)
        for w in empty:
            if data.start <= w < data.stop:
                metrics[w - data.start] = np.nan
                trained[w - data.start] = 0.0
                scored[w - data.start] = 0.0
        return Curve(metrics, trained, scored=scored)

    return curves_of


def insert_empty_column(values: np.ndarray, at: int) -> np.ndarray:
    return np.insert(values, at, np.nan, axis=1)


@pytest.mark.parametrize("name", ["constant", "trajectory", "stratified"])
def test_a_window_empty_for_everyone_changes_no_prediction(name: str) -> None:
    """The same observations with an empty window inserted predict exactly the same targets:
    the empty window adds no data seen (the trajectory's x axis) and no residual."""
    values = curves(SLOW_A, SLOW_B, 40, 0.1)
    # The trajectory predictor really extrapolates on these curves (it ranks config 0 first,
    # the constant predictor does not), so its data-seen axis matters.
    assert int(np.argmin(make_predictor("trajectory").predict(context(values))[0])) == 0
    gapped = insert_empty_column(values, 15)
    plain_score, plain_std = make_predictor(name).predict(context(values))
    gapped_score, gapped_std = make_predictor(name).predict(context(gapped))
    assert np.all(np.isfinite(gapped_score))
    np.testing.assert_allclose(gapped_score, plain_score, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gapped_std, plain_std, rtol=0, atol=1e-12)


def test_asha_compares_the_last_windows_with_data() -> None:
    """The last three windows before the rung were empty for everyone: ASHA judges the three
    before them instead of finding nothing to compare (and stopping nobody)."""
    gaps = np.array([0.0, 0.01, 0.02, 0.03, 0.04, 0.05])
    values = 0.4 + gaps[:, None] + np.zeros((6, 10))
    values[:, 7:] = np.nan
    rule = AshaStopping(eta=3, min_cohort=4, compare_windows=3)
    rung = Rung(10.0, np.arange(6), values, [f"t{i}" for i in range(6)])
    standing = rule.rank(rung)
    np.testing.assert_allclose(standing.scores, 0.4 + gaps)
    stopped = [row for row in range(6) if rule.decide(rung, standing, row)]
    assert stopped == [2, 3, 4, 5]


@pytest.mark.parametrize(
    ("rule", "predictor"),
    [
        ("none", "constant"),
        ("none", "trajectory"),
        ("performance", "constant"),
        ("performance", "trajectory"),
        ("asha", "constant"),
        ("median", "constant"),
    ],
)
def test_a_search_over_a_stream_with_empty_windows_fails_no_trial(
    rule: str, predictor: str
) -> None:
    """The bug of issue 16: every full-horizon trial reached a day without examples and failed.
    Now they run past it, rank, and stage 2's target leaves the empty day out."""
    world = make_world(N, T, seed=3)
    stage1 = {"data": {"rate": 0.2}, "stopping": {"rule": rule}, "predictor": {"name": predictor}}
    spec = search_spec(N, T, stage1=stage1)
    curves_of = with_empty_windows(world.curves, EMPTY)
    result = replay(spec, curves_of)
    search = result.search
    assert search.phase == "Succeeded", search.reason
    stage1_trials = [t for t in search.trials if t.stage == 1]
    assert not [t.reason for t in search.trials if t.state is TrialState.FAILED]
    assert all(t.predicted is not None for t in stage1_trials)
    for t in stage1_trials:
        assert not set(EMPTY) & set(t.windows)
        assert t.empty == {w for w in EMPTY if w < t.position}
    finished = [t for t in stage1_trials if t.state is TrialState.COMPLETED]
    assert finished and all(t.position == T for t in finished)
    # Stage 2: the target is the mean of the evaluation window's six days with examples.
    for t in (t for t in search.trials if t.stage == 2):
        assert t.state is TrialState.COMPLETED, t.reason
        metrics = curves_of(t.params, spec.stage2_data).metrics
        days = [w for w in spec.target_windows if w not in EMPTY]
        assert len(days) == len(spec.target_windows) - 1
        assert t.final == pytest.approx(float(np.mean(metrics[days])))


def test_an_evaluation_window_without_any_example_fails_stage_2_with_the_reason() -> None:
    world = make_world(N, T, seed=3)
    spec = search_spec(N, T, stage1={"data": {"rate": 0.2, "stop": 30}})
    target = tuple(spec.target_windows)
    result = replay(spec, with_empty_windows(world.curves, target))
    stage2 = [t for t in result.search.trials if t.stage == 2]
    assert stage2 and all(t.state is TrialState.FAILED for t in stage2)
    assert f"every day of the evaluation window ({target[0]}-{target[-1]}) had no example" in (
        stage2[0].reason
    )
    assert result.search.phase == "Failed"


def test_empty_windows_are_kept_across_a_restart_and_checked() -> None:
    spec = search_spec(4, 10, stage1={"stopping": {"rule": "none"}})
    search = Search(spec)
    search.step()
    report = TrialReport(
        position=4.0,
        examples=300.0,
        windows={0: WindowStat(0.5, 100), 1: WindowStat(0.4, 100), 3: WindowStat(0.45, 100)},
        empty=frozenset({2, 3}),  # 3 has a metric: it is not empty
    )
    assert search.observe(0, report) == []
    assert search.trials[0].empty == {2}
    restored = Search.from_state(spec, json.loads(json.dumps(search.to_state())))
    assert restored.trials[0].empty == {2}
    assert restored.trials[0].to_dict()["empty"] == [[2, 3]]
    # Garbage is still garbage: an "empty" window outside the stream fails the trial.
    bad = TrialReport(position=5.0, examples=400.0, empty=frozenset({12}))
    assert report_problem(bad, 10) == "reported window 12 as empty, outside the stream's 10 windows"
    actions = restored.observe(1, bad)
    assert restored.trials[1].state is TrialState.FAILED and actions
