"""The relative metric removes shared drift, and the survivorship bias a naive median carries."""

from __future__ import annotations

import numpy as np
from hypersearch.engine.relative import clip_outliers, fit_additive
from scipy.stats import kendalltau


def naive_window_effect(values: np.ndarray) -> np.ndarray:
    """The cohort median of whoever observed each window: the biased estimate peers use."""
    out = np.full(values.shape[1], np.nan)
    for w in range(values.shape[1]):
        col = values[:, w]
        col = col[~np.isnan(col)]
        if col.size:
            out[w] = float(np.median(col))
    return out


def survivorship_table(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Drift alpha_w, gaps beta_c; the worse half of the configs stops after 10 of 40 windows."""
    rng = np.random.default_rng(seed)
    windows, configs = 40, 30
    alpha = 0.5 - 0.004 * np.arange(windows) + 0.02 * np.sin(np.arange(windows) / 3)
    beta = rng.normal(0.0, 0.03, configs)
    values = alpha[None, :] + beta[:, None] + rng.normal(0, 0.002, (configs, windows))
    losers = np.argsort(beta)[configs // 2 :]
    values[losers, 10:] = np.nan
    return values, alpha, beta


def test_joint_fit_recovers_the_drift_despite_survivorship() -> None:
    values, alpha, _ = survivorship_table()
    fit = fit_additive(values)
    # The level of alpha is only defined up to a constant; compare shapes.
    est = fit.alpha - fit.alpha.mean()
    true = alpha - alpha.mean()
    assert np.max(np.abs(est - true)) < 0.003


def test_naive_cohort_median_absorbs_the_survivors_quality() -> None:
    """The same check fails for the peers' estimate: late windows look better than they are."""
    values, alpha, _ = survivorship_table()
    naive = naive_window_effect(values)
    est = naive - naive.mean()
    true = alpha - alpha.mean()
    assert np.max(np.abs(est - true)) > 0.01


def test_stopped_configs_rank_correctly_against_survivors() -> None:
    values, _, beta = survivorship_table(seed=3)
    fit = fit_additive(values)
    tau_fit = kendalltau(fit.beta, beta).statistic
    # Naive: each config judged by its mean gap to the naive window effect; the early stoppers
    # are compared against a biased bar and are ranked wrongly relative to the survivors.
    naive_gap = np.nanmean(values - naive_window_effect(values)[None, :], axis=1)
    tau_naive = kendalltau(naive_gap, beta).statistic
    assert tau_fit > 0.95
    assert tau_naive < tau_fit - 0.05


def test_a_diverging_run_does_not_move_anyone_else() -> None:
    values, _, beta = survivorship_table(seed=1)
    exploded = values.copy()
    exploded[0, 5:] = 7.5e36  # finite, absurd: a model that blew up
    fit = fit_additive(clip_outliers(exploded))
    others = np.arange(1, values.shape[0])
    tau = kendalltau(fit.beta[others], beta[others]).statistic
    assert tau > 0.95
    assert fit.beta[0] == np.nanmax(fit.beta)
    assert np.all(np.abs(fit.alpha) < 10)
