"""Performance-based stopping: predicted targets compared at the same windows, top 1/eta go on.

The predictor sees only windows before the rung and judges each trial by its gap to the jointly
fitted window effect (so neither drift nor survivorship moves the bar). With ``confidence``, a
trial is stopped only when even its optimistic bound is worse than the pessimistic bound of the
last trial that would be kept: fewer, surer stops.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from hypersearch.engine.stopping.base import RungContext, StoppingRule, rank_verdict


class PerformanceStopping(StoppingRule):
    name = "performance"

    def decide(self, ctx: RungContext) -> str | None:
        scores, stds = ctx.predict()
        verdict = rank_verdict(ctx, scores, "predicted")
        confidence = ctx.spec.stopping.confidence
        if verdict is None or confidence is None:
            return verdict
        z = float(norm.ppf(0.5 + confidence / 2))
        cohort = ctx.cohort[np.isfinite(scores[ctx.cohort])]
        keep = max(1, math.floor(cohort.size / ctx.spec.stopping.eta))
        upper = np.sort(scores[cohort] + z * stds[cohort])
        bar = float(upper[keep - 1])
        if scores[ctx.row] - z * stds[ctx.row] <= bar:
            return None
        return f"{verdict}; worse than the top {keep} at {confidence:.0%} confidence"
