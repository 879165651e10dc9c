"""Stratified predictor: per-stratum gaps recombined with the target window's strata mix.

When the mix of strata (country, platform, the label under negative sampling) shifts over time, a
trial that is good on a stratum that grows will do better at the target than its overall recent
gap suggests.

Where the mix comes from: the executors supply, per trial and window, the examples each stratum
had in the windows that trial scored (the trainer's ``window_examples{window,stratum}``), and
nothing else. So the target window's mix is known once some trial has scored the target windows
(a whole-horizon stage 1, or the survivors of prefix stopping when the final ranking is made),
and is then applied to every trial, including those stopped earlier. Before that (decisions at a
rung only see the windows before it) the latest window anyone scored stands in: it is not a
forecast of the shift. No counts of unscored windows are read.
"""

from __future__ import annotations

import numpy as np

from hypersearch.engine.predictors.base import PredictionContext, Predictor, pooled_std, recent_gap
from hypersearch.engine.predictors.constant import ConstantPredictor
from hypersearch.engine.relative import fit_additive


def target_mix(ctx: PredictionContext) -> dict[str, float]:
    """Strata weights of the target windows as scored by the trials that reached them, or of the
    latest window anyone has counts for when none has."""
    totals = {s: c.sum(axis=0) for s, c in ctx.strata_counts.items()}
    if not totals:
        return {}
    per_window = np.vstack(list(totals.values()))
    target = [w for w in ctx.target if w < per_window.shape[1]]
    counted = per_window[:, target].sum(axis=0) > 0
    if counted.any():
        use = [w for w, ok in zip(target, counted, strict=True) if ok]
    else:
        seen = np.flatnonzero(per_window.sum(axis=0) > 0)
        if not seen.size:
            return {}
        use = [int(seen[-1])]
    weights = per_window[:, use].sum(axis=1)
    total = float(weights.sum())
    return {s: float(w) / total for s, w in zip(totals, weights, strict=True)} if total else {}


class StratifiedPredictor(Predictor):
    """``sum_s pi_s(W) * (alpha_{W,s} + beta_{c,s})``; the constant predictor where strata are missing.

    ``StratifiedPredictor(recent_windows=7)``: each stratum's gap is averaged over the trial's
    last ``recent_windows`` windows, as the constant predictor's is.
    """

    name = "stratified"

    def __init__(self, *, recent_windows: int = 7) -> None:
        super().__init__(recent_windows=recent_windows)
        self.fallback = ConstantPredictor(recent_windows=recent_windows)

    def predict(self, ctx: PredictionContext) -> tuple[np.ndarray, np.ndarray]:
        base_score, base_std = self.fallback.predict(ctx)
        mix = target_mix(ctx)
        if not mix:
            return base_score, base_std
        score = np.zeros(ctx.values.shape[0])
        var = np.zeros(ctx.values.shape[0])
        complete = np.ones(ctx.values.shape[0], dtype=bool)
        for stratum, weight in mix.items():
            values = ctx.strata[stratum]
            fit = fit_additive(values)
            gap, std, n = recent_gap(fit.residuals(values), self.recent_windows)
            noise = np.where(n > 1, std, pooled_std(std, n)) / np.sqrt(np.maximum(n, 1))
            score += weight * (ctx.target_alpha(fit.alpha) + gap)
            var += (weight * noise) ** 2
            complete &= n > 0
        return np.where(complete, score, base_score), np.where(complete, np.sqrt(var), base_std)
