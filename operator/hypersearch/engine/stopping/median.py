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


class MedianStopping(StoppingRule):
    name = "median"

    def checkpoints(self, spec: SearchSpec) -> list[float]:
        rungs = geometric_rungs(spec)
        if not rungs:
            return []
        return [float(p) for p in range(int(rungs[0]), spec.stage1_data.stop)]

    def decide(self, ctx: RungContext) -> str | None:
        others = ctx.cohort[ctx.cohort != ctx.row]
        if others.size < ctx.spec.stopping.min_cohort:
            return None
        means = row_means(ctx.values[:, ctx.spec.stage1_data.start : ctx.cutoff])
        median = float(np.nanmedian(means[others]))
        mine = float(means[ctx.row])
        if not np.isfinite(mine) or mine <= median:
            return None
        return (
            f"stopped at {ctx.where()}: running mean {ctx.metric(mine)} "
            f"({ctx.relative(mine, median)} vs. the median of {others.size} trials at this position)"
        )
