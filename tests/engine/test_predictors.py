"""Predictors on synthetic trajectories where the truth is known."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypersearch.engine.predictors import PREDICTORS, PredictionContext, Predictor
from hypersearch.engine.predictors.stratified import target_mix
from hypersearch.engine.relative import fit_additive
from scipy.stats import kendalltau


def context(values: np.ndarray, rate: float = 0.1, **extra: object) -> PredictionContext:
    n, t = values.shape
    return PredictionContext(
        values=values,
        fit=fit_additive(values),
        target=range(t - 5, t),
        starts=np.zeros(n),
        rates=np.full(n, rate),
        target_start=0,
        target_rate=1.0,
        **extra,  # type: ignore[arg-type]
    )


def make_predictor(name: str) -> Predictor:
    """The predictor registered under ``name``, averaging over the last 5 windows."""
    return PREDICTORS[name](recent_windows=5)


def inverse_sqrt(n: np.ndarray) -> np.ndarray:
    """The trajectory predictor's own learning-curve shape ``h(n) = 1/sqrt(n)``."""
    out: np.ndarray = 1.0 / np.sqrt(n)
    return out


# Saturating learning curves of other shapes: the predictor's model is wrong for all of them.
OTHER_SHAPES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "n^-0.8": lambda n: n**-0.8,
    "n^-0.3": lambda n: n**-0.3,
    "exp(-n/2)": lambda n: np.exp(-n / 2),
    "1/log(2+n)": lambda n: 1 / np.log(2 + n),
    "1/(1+n)": lambda n: 1 / (1 + n),
}


def curves(
    a: np.ndarray,
    b: np.ndarray,
    windows: int,
    rate: float,
    seed: int = 0,
    shape: Callable[[np.ndarray], np.ndarray] = inverse_sqrt,
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = np.arange(windows)
    drift = 0.4 + 0.05 * np.sin(w / 4)
    seen = (w + 1) * rate
    noise = rng.normal(0, 0.001, (a.size, windows))
    out: np.ndarray = drift + a[:, None] + b[:, None] * shape(seen) + noise
    return out


def test_constant_ranks_by_recent_gap_whatever_the_drift() -> None:
    a = np.linspace(0.0, 0.02, 8)
    values = curves(a, np.zeros(8), 30, 1.0)
    score, std = make_predictor("constant").predict(context(values))
    assert list(np.argsort(score)) == list(range(8))
    assert np.all(std > 0)


SLOW_A = np.array([0.0, 0.01, 0.012, 0.015, 0.02, 0.025])  # gaps at full data
SLOW_B = np.array([0.03, 0.0, 0.0, 0.005, 0.0, 0.002])  # config 0 learns slowly


def test_trajectory_extrapolation_arithmetic_on_its_own_curve_shape() -> None:
    """Config 0 ends best at full data but looks worse early at a 10% rate.

    The curves have the predictor's own shape, so this checks the extrapolation (data seen,
    target position, anchoring), not that the shape is right: see the next test for that.
    """
    values = curves(SLOW_A, SLOW_B, 40, 0.1)
    const, _ = make_predictor("constant").predict(context(values))
    traj, traj_std = make_predictor("trajectory").predict(context(values))
    assert int(np.argmin(const)) != 0
    assert int(np.argmin(traj)) == 0
    assert np.all(traj_std > 0)


def test_trajectory_on_other_curve_shapes_never_ranks_worse_than_constant() -> None:
    """On saturating curves it does not model, the bounded, shrunk extrapolation (with its
    fall-back) ranks no worse than the constant predictor, and better on some."""
    gains = []
    for name, shape in OTHER_SHAPES.items():
        truth = SLOW_A + SLOW_B * shape(np.arange(35, 40) + 1.0).mean()  # full data, target
        for seed in range(3):
            values = curves(SLOW_A, SLOW_B, 40, 0.1, seed=seed, shape=shape)
            const, _ = make_predictor("constant").predict(context(values))
            traj, _ = make_predictor("trajectory").predict(context(values))
            tau_const = kendalltau(const, truth).statistic
            tau_traj = kendalltau(traj, truth).statistic
            assert tau_traj >= tau_const - 1e-9, (name, seed, tau_const, tau_traj)
            gains.append(tau_traj - tau_const)
    assert max(gains) > 0.1


def test_trajectory_is_bounded_and_falls_back_on_noise() -> None:
    """Pure noise around constant gaps: no curve to fit, so predictions equal the constant's."""
    rng = np.random.default_rng(1)
    values = 0.3 + rng.normal(0, 0.01, (10, 30)) + np.linspace(0, 0.01, 10)[:, None]
    const, _ = make_predictor("constant").predict(context(values))
    traj, _ = make_predictor("trajectory").predict(context(values))
    assert np.allclose(const, traj)


def test_trajectory_does_not_promote_a_diverging_run() -> None:
    """A run with a steep early slope that then gets worse must not be predicted best."""
    a = np.full(6, 0.0) + np.linspace(0, 0.01, 6)
    values = curves(a, np.full(6, 0.005), 30, 1.0, seed=2)
    values[5, :15] -= np.linspace(0.0, 0.03, 15)[::-1]  # looked great early...
    values[5, 15:] += np.linspace(0.0, 0.02, 15)  # ...then diverges
    traj, _ = make_predictor("trajectory").predict(context(values))
    assert int(np.argmin(traj)) == 0
    spread = np.ptp(values[:, -5:].mean(axis=1))
    assert np.ptp(traj) < 3 * spread


WINDOWS, CUT = 30, 12
SHARE_Y = np.linspace(0.1, 0.9, WINDOWS)  # stratum y grows to dominate the target window
GAP_X = np.array([0.00, 0.02, 0.01, 0.03, 0.025])
GAP_Y = np.array([0.03, 0.00, 0.02, 0.01, 0.025])


def strata_context(reached: bool) -> PredictionContext:
    """Rows 0-3 stopped after ``CUT`` windows; row 4, if ``reached``, ran to the end.

    As an executor supplies them (the trainer's ``window_examples{window,stratum}`` of the
    windows a trial scored): a row has strata counts exactly where it has values, so the
    target window's mix is known only from trials that reached it.
    """
    w = np.arange(WINDOWS)
    drift = 0.4 + 0.02 * np.sin(w / 3)
    strata = {"x": drift + GAP_X[:, None] + 0 * w, "y": drift + GAP_Y[:, None] + 0 * w}
    counts = {"x": np.tile(1000 * (1 - SHARE_Y), (5, 1)), "y": np.tile(1000 * SHARE_Y, (5, 1))}
    overall = strata["x"] * (1 - SHARE_Y) + strata["y"] * SHARE_Y
    seen = np.tile(w < CUT, (5, 1))
    seen[4] = reached
    obs = {s: np.where(seen, v, np.nan) for s, v in strata.items()}
    obs_counts = {s: np.where(seen, c, 0.0) for s, c in counts.items()}
    return context(np.where(seen, overall, np.nan), rate=1.0, strata=obs, strata_counts=obs_counts)


def test_stratified_recombines_with_the_mix_of_the_target_window_as_scored() -> None:
    """x dominates the windows every trial saw, y the target window. A trial that reached the
    target scored it, so its counts give the target mix; the stopped trials' per-stratum gaps
    are recombined with it: their ranking is the one at the target, not the one they saw."""
    ctx = strata_context(reached=True)
    mix = target_mix(ctx)
    assert mix["y"] == pytest.approx(SHARE_Y[-5:].mean())
    const, _ = make_predictor("constant").predict(ctx)
    strat, _ = make_predictor("stratified").predict(ctx)
    stopped = np.arange(4)
    at_target = GAP_X * (1 - mix["y"]) + GAP_Y * mix["y"]
    assert list(np.argsort(const[stopped])) == [0, 1, 2, 3]  # the mix they saw
    assert list(np.argsort(strat[stopped])) == list(np.argsort(at_target[stopped]))
    assert int(np.argmin(strat)) == 1


def test_stratified_without_the_target_uses_the_latest_scored_mix() -> None:
    """When no trial has reached the target window (every decision at a rung, or a prefix-only
    stage 1), its mix is not known: the latest window anyone scored stands in for it. That is
    no forecast of the shift: the ranking is the one of the latest mix, not the target's."""
    ctx = strata_context(reached=False)
    mix = target_mix(ctx)
    assert mix["y"] == pytest.approx(SHARE_Y[CUT - 1])
    strat, _ = make_predictor("stratified").predict(ctx)
    stopped = np.arange(4)
    assert np.isnan(strat[4])
    latest = GAP_X * (1 - SHARE_Y[CUT - 1]) + GAP_Y * SHARE_Y[CUT - 1]
    at_target = GAP_X * (1 - SHARE_Y[-5:].mean()) + GAP_Y * SHARE_Y[-5:].mean()
    assert list(np.argsort(strat[stopped])) == list(np.argsort(latest[stopped])) == [1, 0, 2, 3]
    assert list(np.argsort(at_target[stopped])) == [1, 3, 2, 0]


def test_stratified_is_constant_without_strata() -> None:
    values = curves(np.linspace(0.0, 0.02, 6), np.zeros(6), 30, 1.0)
    const, _ = make_predictor("constant").predict(context(values))
    strat, _ = make_predictor("stratified").predict(context(values))
    assert np.allclose(const, strat)
