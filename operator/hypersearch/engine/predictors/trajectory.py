"""Trajectory predictor: each trial's gap follows ``a_c + b_c * h(n)``, shrunk hard to the cohort.

``h(n) = 1 / sqrt(n)`` of the data seen (windows times sampling rate) saturates, so extrapolating
to a full-data run at the target window moves the gap toward ``a_c`` by a bounded amount. Lessons
from real drifting data (docs/design.md §5) are built in: slopes are shrunk toward the cohort's
median slope with an empirical-Bayes ridge, the predicted change is clipped to twice the cohort's
spread of gaps, and the whole cohort falls back to the constant predictor unless the fit predicts
held-back recent windows better than the constant does.
"""

from __future__ import annotations

import numpy as np

from hypersearch.engine.predictors.base import PredictionContext, Predictor, recent_gap
from hypersearch.engine.predictors.constant import ConstantPredictor

HOLDOUT_WINDOWS = 3
MIN_SHRINKAGE = 0.25
MAX_CHANGE_IN_SPREADS = 2.0


def _saturation(data_seen: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / np.sqrt(np.maximum(data_seen, 1e-6))
    return out


def _with_data(values: np.ndarray) -> np.ndarray:
    """Per window: whether it had data. A window nobody observed between two observed ones had
    no examples (empty for everyone, e.g. an outage) and adds no data; windows before the first
    observed one (outside stage 1's range) and after the last (not reached yet) count as full."""
    seen = ~np.isnan(values).all(axis=0)
    observed = np.flatnonzero(seen)
    w = np.arange(values.shape[1])
    if not observed.size:
        return np.ones(values.shape[1], dtype=bool)
    out: np.ndarray = seen | (w < observed[0]) | (w > observed[-1])
    return out


def _windows_with_data(with_data: np.ndarray, start: np.ndarray, upto: np.ndarray) -> np.ndarray:
    """Windows with data in ``[start, upto]`` (inclusive), element-wise; windows beyond the
    table count as full."""
    cum = np.concatenate([[0], np.cumsum(with_data)])
    width = with_data.size

    def before(w: np.ndarray) -> np.ndarray:  # windows with data in [0, w)
        w = np.maximum(w, 0)
        inside = np.minimum(w, width).astype(int)
        counted: np.ndarray = cum[inside] + np.maximum(w - width, 0)
        return counted

    out: np.ndarray = before(upto + 1) - before(start)
    return out


def _data_seen(ctx: PredictionContext, with_data: np.ndarray) -> np.ndarray:
    """Data each trial had trained on by the end of each window, in full-window units (windows
    without examples add none)."""
    w = np.arange(ctx.values.shape[1])[None, :]
    windows = _windows_with_data(with_data, ctx.starts[:, None], w)
    out: np.ndarray = windows * ctx.rates[:, None]
    return out


def _shrunk_slopes(
    x: np.ndarray, r: np.ndarray, use: np.ndarray, min_shrinkage: float = MIN_SHRINKAGE
) -> np.ndarray:
    """Per-row ridge slopes of ``r`` on ``x``, shrunk toward the cohort's median slope."""
    n = use.sum(axis=1).astype(float)
    safe_n = np.maximum(n, 1)
    mx = np.where(use, x, 0).sum(axis=1) / safe_n
    my = np.where(use, r, 0).sum(axis=1) / safe_n
    dx = np.where(use, x - mx[:, None], 0.0)
    dy = np.where(use, r - my[:, None], 0.0)
    sxx = (dx * dx).sum(axis=1)
    sxy = (dx * dy).sum(axis=1)
    ok = (n >= 3) & (sxx > 0)
    if not ok.any():
        return np.zeros_like(my)
    ols = np.where(ok, sxy / np.where(ok, sxx, 1), 0.0)
    resid = np.where(use, dy - ols[:, None] * dx, 0.0)
    noise = float((resid**2).sum() / max(float((n[ok] - 2).sum()), 1.0))
    prior = float(np.median(ols[ok]))
    sampling_var = noise / sxx[ok]
    between = max(float(np.var(ols[ok]) - np.mean(sampling_var)), 1e-12)
    # Empirical-Bayes ridge, floored at a quarter (min_shrinkage) of the median trial's own
    # information: a typical trial can move its slope at most 80% of the way from the cohort's.
    lam = max(noise / between, min_shrinkage * float(np.median(sxx[ok])))
    return np.where(ok, (sxy + lam * prior) / (sxx + lam), prior)


def _last_observed(use: np.ndarray) -> np.ndarray:
    """Column of each row's last observed window (0 for empty rows)."""
    width = use.shape[1]
    last: np.ndarray = width - 1 - np.argmax(use[:, ::-1], axis=1)
    return last


class TrajectoryPredictor(Predictor):
    """Saturating extrapolation of each trial's gap to a full-data run at the target window.

    ``TrajectoryPredictor(recent_windows=7)``. A spec sets only ``recent_windows``; the others
    keep the defaults documented in docs/engine.md: ``holdout_windows`` held back to check the fit
    against the constant predictor, ``min_shrinkage`` (the ridge's floor, in median-trial
    information) and ``max_change_in_spreads`` (the bound on the predicted change, in the
    cohort's spreads of gaps).
    """

    name = "trajectory"

    def __init__(
        self,
        *,
        recent_windows: int = 7,
        holdout_windows: int = HOLDOUT_WINDOWS,
        min_shrinkage: float = MIN_SHRINKAGE,
        max_change_in_spreads: float = MAX_CHANGE_IN_SPREADS,
    ) -> None:
        super().__init__(recent_windows=recent_windows)
        self.holdout_windows = holdout_windows
        self.min_shrinkage = min_shrinkage
        self.max_change_in_spreads = max_change_in_spreads
        self.fallback = ConstantPredictor(recent_windows=recent_windows)

    def _extrapolate(
        self,
        ctx: PredictionContext,
        x: np.ndarray,
        residuals: np.ndarray,
        use: np.ndarray,
        at: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fitted gap at data amounts ``at`` (one per row), and the constant gap, from ``residuals``."""
        slope = _shrunk_slopes(x, residuals, use, self.min_shrinkage)
        gap_now, _, _ = recent_gap(residuals, self.recent_windows)
        rows = np.arange(x.shape[0])
        last = x[rows, _last_observed(use)]  # most data seen = smallest h
        change = slope * (_saturation(at) - last)
        finite = gap_now[np.isfinite(gap_now)]
        bound = self.max_change_in_spreads * float(np.std(finite)) if finite.size > 1 else 0.0
        change = np.clip(change, -bound, bound)
        # Anchored on the observed recent gap, not the fitted line, so the level is never invented.
        return gap_now + change, gap_now

    def _fit_beats_constant(
        self,
        ctx: PredictionContext,
        x: np.ndarray,
        residuals: np.ndarray,
        use: np.ndarray,
        with_data: np.ndarray,
    ) -> bool:
        """Whether extrapolating a prefix predicts the held-back last windows better than constant."""
        last = _last_observed(use)
        w = np.arange(residuals.shape[1])[None, :]
        held = use & (w > (last - self.holdout_windows)[:, None])
        train_use = use & ~held
        eligible = train_use.sum(axis=1) >= 3
        if eligible.sum() < 3:
            return False
        train = np.where(train_use, residuals, np.nan)
        counts = held.sum(axis=1)
        actual = np.where(held, residuals, 0).sum(axis=1) / np.maximum(counts, 1)
        held_w = np.where(held, w, 0).sum(axis=1) / np.maximum(counts, 1)
        at = (held_w - ctx.starts + 1) * ctx.rates
        if not with_data.all():  # holes: count only the windows that had data
            at = _windows_with_data(with_data, ctx.starts, np.rint(held_w)) * ctx.rates
        fitted, constant = self._extrapolate(ctx, x, train, train_use, at)
        ok = eligible & np.isfinite(fitted) & np.isfinite(constant)
        err_fit = float(np.mean((fitted[ok] - actual[ok]) ** 2))
        err_const = float(np.mean((constant[ok] - actual[ok]) ** 2))
        return err_fit < err_const

    def predict(self, ctx: PredictionContext) -> tuple[np.ndarray, np.ndarray]:
        base_score, base_std = self.fallback.predict(ctx)
        residuals = ctx.fit.residuals(ctx.values)
        use = ~np.isnan(residuals)
        with_data = _with_data(ctx.values)
        x = _saturation(_data_seen(ctx, with_data))
        if not self._fit_beats_constant(ctx, x, residuals, use, with_data):
            return base_score, base_std
        mid = (ctx.target.start + ctx.target.stop - 1) / 2
        # The full run's data seen at the target's middle: windows without examples add none.
        centre = round(mid)
        seen = _windows_with_data(with_data, np.array([ctx.target_start]), np.array([centre]))
        at = np.full(ctx.values.shape[0], (float(seen[0]) + mid - centre) * ctx.target_rate)
        gap, gap_now = self._extrapolate(ctx, x, residuals, use, at)
        # Uncertainty grows with how far the prediction moved from what was observed.
        std = np.sqrt(base_std**2 + (gap - gap_now) ** 2)
        return ctx.target_alpha() + gap, std
