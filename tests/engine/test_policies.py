"""Each policy built from its own constructor arguments (no spec) and checked on one decision."""

from __future__ import annotations

import numpy as np
import pytest
from hypersearch.engine.predictors import (
    ConstantPredictor,
    StratifiedPredictor,
    TrajectoryPredictor,
)
from hypersearch.engine.stopping import (
    AshaStopping,
    MedianStopping,
    NoStopping,
    PerformanceStopping,
    Rung,
)

from tests.engine.test_predictors import SLOW_A, SLOW_B, context, curves, strata_context

NAMES = ["t-0", "t-1", "t-2", "t-3", "t-4"]


def rung(values: np.ndarray, **extra: object) -> Rung:
    """Every row reached position 10; ``values`` are its windows before the rung."""
    return Rung(
        position=10.0,
        cohort=np.arange(values.shape[0]),
        values=values,
        names=NAMES[: values.shape[0]],
        **extra,  # type: ignore[arg-type]
    )


def test_asha_keeps_the_top_fraction_of_the_recent_windows() -> None:
    rule = AshaStopping(eta=2, min_cohort=4, compare_windows=2, metric="logloss", window_name="day")
    assert rule.checkpoints(0, 60) == [8.0, 15.0, 30.0]  # from 60 / 2^3, times 2, below 60
    # Row 3 is worst on the last two windows, though best on the earlier ones.
    values = np.array(
        [
            [0.50, 0.50, 0.40, 0.40],
            [0.50, 0.50, 0.41, 0.41],
            [0.50, 0.50, 0.42, 0.42],
            [0.10, 0.10, 0.43, 0.43],
        ]
    )
    at = rung(values)
    standing = rule.rank(at)
    assert rule.decide(at, standing, 0) is None
    assert rule.decide(at, standing, 3) == (
        "stopped at day 10: recent logloss 0.4300 (+7.50% vs. best t-0), rank 4/4, "
        "outside the top 1/2 at this rung"
    )
    assert AshaStopping(eta=2, min_cohort=5).decide(at, standing, 3) is None  # cohort too small


def test_performance_ranks_predictions_and_confidence_spares_uncertain_trials() -> None:
    values = np.full((4, 3), np.nan)  # the rule reads the predictions, not the values
    predicted = np.array([0.40, 0.41, 0.42, 0.45])
    at = rung(values, predicted=predicted, predicted_std=np.full(4, 0.001))
    rule = PerformanceStopping(eta=2, min_cohort=4, metric="auc", goal_sign=-1.0)
    reason = rule.decide(at, rule.rank(at), 3)
    assert reason is not None and reason.startswith("stopped at window 10: predicted auc -0.4500")
    assert rule.decide(at, rule.rank(at), 1) is None
    sure = PerformanceStopping(eta=2, min_cohort=4, confidence=0.95)
    sure_stop = sure.decide(at, sure.rank(at), 3)
    assert sure_stop is not None and sure_stop.endswith("worse than the top 2 at 95% confidence")
    unsure = rung(values, predicted=predicted, predicted_std=np.full(4, 0.05))
    assert sure.decide(unsure, sure.rank(unsure), 3) is None


def test_median_stops_a_running_mean_worse_than_the_others_median() -> None:
    rule = MedianStopping(min_cohort=3, rungs=(8,))
    assert rule.checkpoints(0, 12) == [8.0, 9.0, 10.0, 11.0]
    values = np.array([[0.40, 0.40], [0.41, 0.41], [0.42, 0.42], [0.50, np.nan]])
    at = rung(values)
    standing = rule.rank(at)
    assert rule.decide(at, standing, 1) is None
    reason = rule.decide(at, standing, 3)
    assert reason is not None and "vs. the median of 3 trials at this position" in reason
    assert MedianStopping(min_cohort=4).decide(at, standing, 3) is None  # 3 others are too few


def test_no_stopping_never_checks() -> None:
    rule = NoStopping()
    assert rule.checkpoints(0, 60) == []
    at = rung(np.array([[0.4], [0.5]]))
    assert rule.decide(at, rule.rank(at), 1) is None


def test_constant_predicts_the_recent_gap_over_its_own_window_count() -> None:
    values = np.array([[0.40, 0.40, 0.40, 0.40], [0.40, 0.40, 0.44, 0.44]]) + np.arange(4) / 100
    recent, _ = ConstantPredictor(recent_windows=2).predict(context(values))
    longer, _ = ConstantPredictor(recent_windows=4).predict(context(values))
    assert recent[1] - recent[0] == pytest.approx(0.04)
    assert longer[1] - longer[0] == pytest.approx(0.02)


def test_trajectory_extrapolates_within_its_bound() -> None:
    """Config 0 learns slowly: extrapolated to full data it is best, unless no change is allowed."""
    values = curves(SLOW_A, SLOW_B, 40, 0.1)
    moved, _ = TrajectoryPredictor(recent_windows=5).predict(context(values))
    still, _ = TrajectoryPredictor(recent_windows=5, max_change_in_spreads=0.0).predict(
        context(values)
    )
    constant, _ = ConstantPredictor(recent_windows=5).predict(context(values))
    assert int(np.argmin(moved)) == 0
    assert np.allclose(still, constant)


def test_stratified_recombines_gaps_with_the_target_mix() -> None:
    predicted, _ = StratifiedPredictor(recent_windows=5).predict(strata_context(reached=True))
    assert int(np.argmin(predicted)) == 1
