"""Median stopping (Vizier, Katib): stop when the running mean is worse than the cohort median.

Checked at every window boundary from the first rung on, against the running means of all trials
that reached the same position.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hypersearch.engine.stopping.base import (
    Rung,
    Standing,
    StoppingRule,
    geometric_rungs,
    relative,
    row_means,
    standing_of,
)


def median_without(ordered: np.ndarray, value: float) -> float:
    """Median of the sorted ``ordered`` with one occurrence of ``value`` removed (the others')."""
    k = int(np.searchsorted(ordered, value))
    rest = np.delete(ordered, min(k, ordered.size - 1))
    return float(np.median(rest))


class MedianStopping(StoppingRule):
    """``MedianStopping(min_cohort=4)``: from the first rung on, at every window, stop a trial
    whose running mean is worse than the median running mean of the others at that position,
    once more than ``min_cohort`` trials got there.

    The first rung is the first of :func:`geometric_rungs` (``rungs``, ``min_position``, ``eta``
    and ``compare_windows`` only place it).
    """

    name = "median"

    def __init__(
        self,
        *,
        min_cohort: int = 4,
        eta: float = 3.0,
        compare_windows: int = 7,
        rungs: Sequence[float] = (),
        min_position: float | None = None,
        metric: str = "metric",
        goal_sign: float = 1.0,
        window_name: str = "window",
    ) -> None:
        super().__init__(metric=metric, goal_sign=goal_sign, window_name=window_name)
        self.min_cohort = min_cohort
        self.eta = eta
        self.compare_windows = compare_windows
        self.rungs = tuple(rungs)
        self.min_position = min_position

    def checkpoints(self, start: int, stop: int) -> list[float]:
        rungs = geometric_rungs(
            start,
            stop,
            eta=self.eta,
            compare_windows=self.compare_windows,
            rungs=self.rungs,
            min_position=self.min_position,
        )
        if not rungs:
            return []
        return [float(p) for p in range(int(rungs[0]), stop)]

    def rank(self, rung: Rung) -> Standing:
        return standing_of(row_means(rung.values), rung.cohort)

    def decide(self, rung: Rung, standing: Standing, row: int) -> str | None:
        mine = float(standing.scores[row])
        ordered = standing.ordered
        if not np.isfinite(mine) or ordered.size - 1 < self.min_cohort:
            return None
        median = median_without(ordered, mine)
        if mine <= median:
            return None
        return (
            f"stopped at {self.where(rung)}: running mean {self.score(mine)} "
            f"({relative(mine, median)} vs. the median of {ordered.size - 1} trials at this position)"
        )
