"""The promotion interface: which stage-1 configurations go on (to a higher rate, or to stage 2).

Stage 1 may have run a configuration at several data rates (a ladder over the rate, as
successive halving over the sub-sampling rate does). A promotion policy sees that as plain data,
a :class:`Candidates`, and returns a :class:`Ranking`: the order in which configurations are
promoted to stage 2 (best first), and the order in which they continue up the ladder. Policies
are chosen by name (:data:`hypersearch.engine.promotion.PROMOTIONS`) and built from their own
settings, as predictors and stopping rules are. No I/O: numpy in, numpy out.

Every policy obeys one guard: a configuration whose run diverged at any rate (a scored window
without a finite metric) is never promoted nor continued while another is left; it ranks last.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np


@dataclass(frozen=True)
class Candidates:
    """What stage 1 knows, one row per configuration.

    ``targets[i, j]``: the sign-adjusted (lower is better) target of configuration ``i``'s run at
    ``rates[j]`` (ascending), NaN where it was not run there. ``diverged[i]``: some run of it
    diverged (at any rate). ``families[i]``: its model family (the ``model`` parameter; one
    label for all when the space has none). ``target_rate``: the rate of full training.
    """

    targets: np.ndarray
    rates: np.ndarray
    families: Sequence[str]
    diverged: np.ndarray
    target_rate: float = 1.0

    @staticmethod
    def of(
        targets: np.ndarray,
        rates: Sequence[float],
        families: Sequence[str] | None = None,
        diverged: np.ndarray | None = None,
        target_rate: float = 1.0,
    ) -> Candidates:
        """Build from plain arrays: a non-finite target that is not NaN (inf) counts as a run
        that diverged, as does every row flagged in ``diverged``."""
        t = np.asarray(targets, dtype=float).reshape(len(targets), -1)
        bad = np.isinf(t).any(axis=1)
        if diverged is not None:
            bad |= np.asarray(diverged, dtype=bool)
        fam = list(families) if families is not None else [""] * t.shape[0]
        return Candidates(
            np.where(np.isinf(t), np.nan, t), np.asarray(rates, dtype=float), fam, bad, target_rate
        )

    @property
    def size(self) -> int:
        return int(self.targets.shape[0])

    def reached(self) -> np.ndarray:
        """Index of the highest rate each row was run at (-1: none)."""
        seen = ~np.isnan(self.targets)
        last = np.where(seen.any(axis=1), seen.shape[1] - 1 - np.argmax(seen[:, ::-1], axis=1), -1)
        out: np.ndarray = last.astype(int)
        return out

    def latest(self) -> np.ndarray:
        """Each row's target at the highest rate it was run at (NaN: none)."""
        last = self.reached()
        rows = np.arange(self.size)
        out: np.ndarray = np.where(last >= 0, self.targets[rows, np.maximum(last, 0)], np.nan)
        return out

    def usable(self) -> np.ndarray:
        """Rows that may be promoted or continued: some finite target, never diverged."""
        out: np.ndarray = ~self.diverged & ~np.isnan(self.targets).all(axis=1)
        return out


@dataclass(frozen=True)
class Ranking:
    """A policy's answer. ``promote``: every row, in the order stage 2 takes them (the first k
    are promoted); ``advance``: every row, in the order they continue to the next rate;
    ``scores``/``stds``: the predicted full-data target of each row (lower is better; inf for a
    row that diverged or has no data) and its uncertainty."""

    promote: np.ndarray
    advance: np.ndarray
    scores: np.ndarray
    stds: np.ndarray


def guarded_order(
    key: np.ndarray, usable: np.ndarray, tiebreak: np.ndarray | None = None
) -> np.ndarray:
    """Rows sorted by ``key`` (lower first), every unusable row (diverged, no data, or a
    non-finite key) after all the usable ones."""
    ok = usable & np.isfinite(key)
    second = np.zeros(key.size) if tiebreak is None else tiebreak
    keyed = np.where(ok, key, np.inf)
    order: np.ndarray = np.lexsort((np.arange(key.size), second, keyed, ~ok))
    return order


class Promotion(ABC):
    """Orders stage-1 configurations for promotion; chosen by ``name``."""

    name: ClassVar[str]

    @abstractmethod
    def rank(self, candidates: Candidates) -> Ranking:
        """The promotion and advance orders of every row of ``candidates``."""

    def promote(self, candidates: Candidates, k: int) -> list[int]:
        """The rows stage 2 trains: the first ``k`` of :meth:`rank`'s order that are usable."""
        ranking = self.rank(candidates)
        ok = candidates.usable()
        return [int(i) for i in ranking.promote if ok[i]][:k]
