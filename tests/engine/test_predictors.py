"""Predictors on synthetic trajectories where the truth is known."""

from __future__ import annotations

import numpy as np
from hypersearch.engine.predictors import PredictionContext, make_predictor
from hypersearch.engine.relative import fit_additive


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
        recent_windows=5,
        **extra,  # type: ignore[arg-type]
    )


def curves(a: np.ndarray, b: np.ndarray, windows: int, rate: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = np.arange(windows)
    drift = 0.4 + 0.05 * np.sin(w / 4)
    seen = (w + 1) * rate
    return drift + a[:, None] + b[:, None] / np.sqrt(seen) + rng.normal(0, 0.001, (a.size, windows))


def test_constant_ranks_by_recent_gap_whatever_the_drift() -> None:
    a = np.linspace(0.0, 0.02, 8)
    values = curves(a, np.zeros(8), 30, 1.0)
    score, std = make_predictor("constant").predict(context(values))
    assert list(np.argsort(score)) == list(range(8))
    assert np.all(std > 0)


def test_trajectory_extrapolates_slow_learners_to_full_data() -> None:
    """Config 0 ends best at full data but looks worst early at a 10% rate."""
    a = np.array([0.0, 0.01, 0.012, 0.015, 0.02, 0.025])
    b = np.array([0.03, 0.0, 0.0, 0.005, 0.0, 0.002])
    values = curves(a, b, 40, 0.1)
    const, _ = make_predictor("constant").predict(context(values))
    traj, traj_std = make_predictor("trajectory").predict(context(values))
    assert int(np.argmin(const)) != 0
    assert int(np.argmin(traj)) == 0
    assert np.all(traj_std > 0)


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


def test_stratified_follows_the_target_mix() -> None:
    """A is better on stratum x, B on y; y grows to dominate the target window."""
    windows = 30
    n = 4
    w = np.arange(windows)
    drift = 0.4 + 0.02 * np.sin(w / 3)
    gap_x = np.array([0.00, 0.02, 0.01, 0.03])
    gap_y = np.array([0.03, 0.00, 0.02, 0.01])
    share_y = np.linspace(0.1, 0.9, windows)
    strata = {"x": drift + gap_x[:, None] + 0 * w, "y": drift + gap_y[:, None] + 0 * w}
    counts = {
        "x": np.tile(1000 * (1 - share_y), (n, 1)),
        "y": np.tile(1000 * share_y, (n, 1)),
    }
    # Only the first 20 windows observed, where x still dominates on average.
    overall = strata["x"] * (1 - share_y) + strata["y"] * share_y
    cut = 12
    obs = {s: np.where(w < cut, v, np.nan) for s, v in strata.items()}
    obs_counts = {s: np.where(w < cut, c, 0.0) for s, c in counts.items()}
    # The target window's strata counts are known (cheap counts, no training).
    for s in obs_counts:
        obs_counts[s][0, -5:] = counts[s][0, -5:]
    values = np.where(w < cut, overall, np.nan)
    ctx = context(values, rate=1.0, strata=obs, strata_counts=obs_counts)
    const, _ = make_predictor("constant").predict(ctx)
    strat, _ = make_predictor("stratified").predict(ctx)
    assert int(np.argmin(const)) == 0
    assert int(np.argmin(strat)) == 1
