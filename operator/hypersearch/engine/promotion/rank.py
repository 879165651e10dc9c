"""Plain promotion: by the target at the highest rate a configuration reached, those that
reached a higher rate first (as successive halving ranks the survivors of a later rung first)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from hypersearch.engine.promotion.base import Candidates, Promotion, Ranking


class RankPromotion(Promotion):
    name: ClassVar[str] = "rank"

    def rank(self, candidates: Candidates) -> Ranking:
        latest = candidates.latest()
        ok = candidates.usable() & np.isfinite(latest)
        reached = np.where(ok, candidates.reached(), -1)
        keyed = np.where(ok, latest, np.inf)
        order = np.lexsort((np.arange(candidates.size), keyed, -reached, ~ok))
        return Ranking(order, order, keyed, np.zeros(candidates.size))
