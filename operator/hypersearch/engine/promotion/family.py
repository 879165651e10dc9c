"""Family-aware promotion (issue 16, lead 4): a cheap baseline against rank reversal.

When rankings reverse with data size, they mostly reverse *between* model families (a large
DLRM needs data that a logistic regression does not), less within one. So promote the best
``per_family`` configurations of every family first (the best family's first), and fill the
remaining stage-2 slots by overall rank. With ``k`` slots and more families than ``k``, the
families whose best scores best get them.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from hypersearch.engine.promotion.base import Candidates, Promotion, Ranking
from hypersearch.engine.promotion.rank import RankPromotion


def family_first(
    order: np.ndarray, families: list[str], usable: np.ndarray, per_family: int
) -> np.ndarray:
    """``order`` with the first ``per_family`` usable rows of each family moved to the front
    (keeping their relative order), the rest after them in ``order``'s order."""
    taken: dict[str, int] = {}
    front, back = [], []
    for i in order:
        f = families[int(i)]
        if usable[i] and taken.get(f, 0) < per_family:
            taken[f] = taken.get(f, 0) + 1
            front.append(int(i))
        else:
            back.append(int(i))
    return np.array(front + back, dtype=int)


class FamilyPromotion(Promotion):
    name: ClassVar[str] = "family"

    def __init__(self, *, per_family: int = 1) -> None:
        if per_family < 1:
            raise ValueError("per_family must be at least 1")
        self.per_family = per_family

    def rank(self, candidates: Candidates) -> Ranking:
        base = RankPromotion().rank(candidates)
        order = family_first(
            base.promote, list(candidates.families), candidates.usable(), self.per_family
        )
        return Ranking(order, order, base.scores, base.stds)
