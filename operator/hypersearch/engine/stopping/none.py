"""No early stopping: every stage-1 trial runs its whole data (the full-search baseline)."""

from __future__ import annotations

import numpy as np

from hypersearch.engine.stopping.base import Rung, Standing, StoppingRule


class NoStopping(StoppingRule):
    """``NoStopping()``: no checkpoints, so no trial is ever judged."""

    name = "none"

    def checkpoints(self, start: int, stop: int) -> list[float]:
        return []

    def rank(self, rung: Rung) -> Standing:
        return Standing(np.empty(0), np.empty(0))

    def decide(self, rung: Rung, standing: Standing, row: int) -> str | None:
        return None
