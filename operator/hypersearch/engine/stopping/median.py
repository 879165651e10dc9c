"""Median stopping (Vizier, Katib): stop when the running mean is worse than the cohort median.

Checked at every window boundary from the first rung on, against the running means of all trials
that reached the same position.
"""

from __future__ import annotations

import numpy as np

from hypersearch.engine.stopping.base import (
    RungContext,
    StoppingRule,
    geometric_rungs,
    row_means,
)
from hypersearch.spec.model import SearchSpec


def median_without(ordered: np.ndarray, value: float) -> float:
    """Median of the sorted ``ordered`` with one occurrence of ``value`` removed (the others')."""
    k = int(np.searchsorted(ordered, value))
    rest = np.delete(ordered, min(k, ordered.size - 1))
    return float(np.median(rest))


class MedianStopping(StoppingRule):
    name = "median"

    def checkpoints(self, spec: SearchSpec) -> list[float]:
        rungs = geometric_rungs(spec)
        if not rungs:
            return []
        return [float(p) for p in range(int(rungs[0]), spec.stage1_data.stop)]

    def decide(self, ctx: RungContext) -> str | None:
        def running_means() -> tuple[np.ndarray, np.ndarray]:
            means = row_means(ctx.values[:, ctx.spec.stage1_data.start : ctx.cutoff])
            cohort = means[ctx.cohort]
            return means, np.sort(cohort[np.isfinite(cohort)])

        means, ordered = ctx.memo("median", running_means)
        mine = float(means[ctx.row])
        if not np.isfinite(mine) or ordered.size - 1 < ctx.spec.stopping.min_cohort:
            return None
        median = median_without(ordered, mine)
        if mine <= median:
            return None
        return (
            f"stopped at {ctx.where()}: running mean {ctx.metric(mine)} "
            f"({ctx.relative(mine, median)} vs. the median of {ordered.size - 1} trials at this position)"
        )
