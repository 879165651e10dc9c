"""The predictor interface: a trial's final target score, with an uncertainty, from its prefix."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from hypersearch.engine.relative import AdditiveFit


@dataclass
class PredictionContext:
    """Everything a predictor may look at, already restricted to the windows it may use.

    ``values`` is sign-adjusted (lower is better), trials by windows, NaN where unobserved.
    ``starts`` and ``rates`` describe each trial's data, so predictors can reason in data seen;
    ``target_start``/``target_rate`` describe the full-training run whose target we predict.
    Settings (how many recent windows, ...) are the predictor's own, given to its constructor.
    """

    values: np.ndarray
    fit: AdditiveFit
    target: range
    starts: np.ndarray
    rates: np.ndarray
    target_start: int
    target_rate: float
    strata: dict[str, np.ndarray] = field(default_factory=dict)
    strata_counts: dict[str, np.ndarray] = field(default_factory=dict)

    def target_alpha(self, alpha: np.ndarray | None = None) -> float:
        """Window effect of the target window; the latest known one when nobody has reached it.

        It is shared by every trial, so when it is unknown any constant ranks them the same.
        """
        a = self.fit.alpha if alpha is None else alpha
        known = a[[w for w in self.target if w < a.size]]
        known = known[~np.isnan(known)]
        if known.size:
            return float(known.mean())
        observed = np.flatnonzero(~np.isnan(a))
        return float(a[observed[-1]]) if observed.size else 0.0


class Predictor(ABC):
    """Predicts each trial's target score; implementations are chosen by ``name`` in the spec.

    ``recent_windows``: how many of a trial's last observed windows its current gap is averaged
    over (``stage1.predictor.recentWindows``).
    """

    name: ClassVar[str]

    def __init__(self, *, recent_windows: int = 7) -> None:
        self.recent_windows = recent_windows

    @abstractmethod
    def predict(self, ctx: PredictionContext) -> tuple[np.ndarray, np.ndarray]:
        """Scores and standard deviations for every row of ``ctx.values`` (NaN if no data).

        Args:
            ctx: the observations and fit to predict from.
        Returns:
            Two arrays, one entry per trial row: predicted target (lower is better) and its std.
        """


def recent_gap(residuals: np.ndarray, recent: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, std and count of each row's last ``recent`` observed residuals (vectorised).

    "Observed" skips holes: a window without examples (empty for everyone, or for this trial's
    evaluation sample) or one whose report was lost is NaN and does not count, so a trial with a
    hole still averages its last ``recent`` real windows. Cumulative counts from the end of each
    row pick them without a Python loop.
    """
    mask = ~np.isnan(residuals)
    r = np.where(mask, residuals, 0.0)
    count_from_end = np.cumsum(mask[:, ::-1], axis=1)[:, ::-1]
    use = mask & (count_from_end <= recent)
    n = use.sum(axis=1).astype(float)
    total = np.where(use, r, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        sq = np.where(use, (r - mean[:, None]) ** 2, 0.0).sum(axis=1)
        std = np.sqrt(sq / np.maximum(n - 1, 1))
    mean[n == 0] = np.nan
    return mean, std, n


def pooled_std(std: np.ndarray, n: np.ndarray) -> float:
    """A cohort-wide noise level, used where a trial has too few windows of its own."""
    ok = (n > 1) & np.isfinite(std)
    return float(np.median(std[ok])) if ok.any() else 0.0
