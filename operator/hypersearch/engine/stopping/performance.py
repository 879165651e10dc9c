"""Performance-based stopping: predicted targets compared at the same windows, top 1/eta go on.

The predictor sees only windows before the rung and judges each trial by its gap to the jointly
fitted window effect (so neither drift nor survivorship moves the bar). With ``confidence``, a
trial is stopped only when even its optimistic bound is worse than the pessimistic bound of the
last trial that would be kept: fewer, surer stops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import norm

from hypersearch.engine.stopping.base import Rung, Standing, TopFractionRule, standing_of


def _predictions(rung: Rung) -> tuple[np.ndarray, np.ndarray]:
    if rung.predicted is None or rung.predicted_std is None:
        raise ValueError("performance-based stopping needs the rung's predictions")
    return rung.predicted, rung.predicted_std


class PerformanceStopping(TopFractionRule):
    """``PerformanceStopping(eta=3, min_cohort=4, compare_windows=7, confidence=None)``.

    ``compare_windows`` only places the default first rung here; the predictor decides how many
    recent windows a prediction uses.
    """

    name = "performance"
    label = "predicted"
    uses_predictions = True

    def __init__(
        self,
        *,
        eta: float = 3.0,
        min_cohort: int = 4,
        compare_windows: int = 7,
        confidence: float | None = None,
        rungs: Sequence[float] = (),
        min_position: float | None = None,
        metric: str = "metric",
        goal_sign: float = 1.0,
        window_name: str = "window",
    ) -> None:
        super().__init__(
            eta=eta,
            min_cohort=min_cohort,
            compare_windows=compare_windows,
            rungs=rungs,
            min_position=min_position,
            metric=metric,
            goal_sign=goal_sign,
            window_name=window_name,
        )
        self.confidence = confidence
        self._z = None if confidence is None else float(norm.ppf(0.5 + confidence / 2))

    def rank(self, rung: Rung) -> Standing:
        return standing_of(_predictions(rung)[0], rung.cohort)

    def decide(self, rung: Rung, standing: Standing, row: int) -> str | None:
        scores, stds = _predictions(rung)
        verdict = self.verdict(rung, standing, scores, row)
        if verdict is None or self._z is None:
            return verdict
        z = self._z
        cohort = rung.cohort[np.isfinite(scores[rung.cohort])]
        keep = max(1, math.floor(cohort.size / self.eta))
        upper = np.sort(scores[cohort] + z * stds[cohort])
        bar = float(upper[keep - 1])
        if scores[row] - z * stds[row] <= bar:
            return None
        return f"{verdict}; worse than the top {keep} at {self.confidence:.0%} confidence"
