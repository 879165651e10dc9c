"""Constant predictor: a trial's recent gap to the window effect stays as it is until the target."""

from __future__ import annotations

import numpy as np

from hypersearch.engine.predictors.base import PredictionContext, Predictor, pooled_std, recent_gap


class ConstantPredictor(Predictor):
    """``alpha_W + mean(m_c(w) - alpha_w)`` over the trial's last ``recent_windows`` windows.

    ``ConstantPredictor(recent_windows=7)``.

    The strong baseline (docs/design.md §5): it assumes nothing about learning curves, so it can't
    promote a run for a steep early slope.
    """

    name = "constant"

    def predict(self, ctx: PredictionContext) -> tuple[np.ndarray, np.ndarray]:
        gap, std, n = recent_gap(ctx.fit.residuals(ctx.values), self.recent_windows)
        noise = np.where(n > 1, std, pooled_std(std, n))
        return ctx.target_alpha() + gap, noise / np.sqrt(np.maximum(n, 1))
