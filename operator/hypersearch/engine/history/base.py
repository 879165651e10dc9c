"""Learning from earlier searches (issue 16, lead 3): the interface.

The same model family is searched again every week or month. An earlier search of the same
objective and parameter space left, per configuration, its stage-1 observation (the target of
its reduced run) and, for the configurations it trained in full (its stage 2, or all of them),
the full-data target. A history policy learns from those earlier searches a correction of the
stage-1 ranking and applies it to a new search's stage-1 observations. No I/O: numpy in, numpy
out; the caller (a benchmark replay now, a spec field later) reads and checks the earlier
searches.

Lower is better everywhere (sign-adjusted targets). A row whose stage-1 observation is not finite
(its run diverged) ranks last, whatever the history says.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from hypersearch.spec.model import Parameter, ParamValue


@dataclass(frozen=True)
class Search:
    """One earlier search, one row per configuration it ran in stage 1.

    ``features[i]``: configuration ``i``'s hyperparameters, encoded (:func:`encode`).
    ``stage1[i]``: its stage-1 target. ``full[i]``: its full-data target, NaN where that search
    did not train it in full. ``groups[i]``: an identity for the configuration (the same
    configuration searched again has the same group), used to validate on configurations the
    fit has not seen; by default every row its own group. ``horizon``: when it ended (windows),
    for ordering only.
    """

    features: np.ndarray
    stage1: np.ndarray
    full: np.ndarray
    groups: np.ndarray | None = None
    horizon: int = 0

    def __post_init__(self) -> None:
        n = len(self.stage1)
        if self.features.shape[0] != n or len(self.full) != n:
            raise ValueError("features, stage1 and full must have one row per configuration")
        if self.groups is not None and len(self.groups) != n:
            raise ValueError("groups must have one entry per configuration")

    @property
    def size(self) -> int:
        return len(self.stage1)

    def known(self) -> np.ndarray:
        """Rows that teach something: both targets finite."""
        out: np.ndarray = np.isfinite(self.stage1) & np.isfinite(self.full)
        return out

    def group_ids(self) -> np.ndarray:
        if self.groups is None:
            return np.arange(self.size)
        return np.asarray(self.groups)


@dataclass(frozen=True)
class HistoryRanking:
    """``scores[i]``: the corrected score of row ``i`` (lower is better; inf for a row whose
    stage-1 observation is not finite); ``order``: rows best first; ``weight``: how much of the
    learned correction was applied (0: history disagreed or was too thin, the plain stage-1
    ranking); ``reason``: why, in words."""

    scores: np.ndarray
    order: np.ndarray
    weight: float
    reason: str


class HistoryPolicy(ABC):
    """Ranks a new search's stage-1 observations with what earlier searches taught."""

    name: ClassVar[str]

    @abstractmethod
    def rank(
        self, history: Sequence[Search], features: np.ndarray, stage1: np.ndarray
    ) -> HistoryRanking:
        """The new search's rows (``features``, ``stage1``) ranked using ``history``."""


class PlainPolicy(HistoryPolicy):
    """No learning: the plain stage-1 ranking (what a search without history does)."""

    name = "none"

    def rank(
        self, history: Sequence[Search], features: np.ndarray, stage1: np.ndarray
    ) -> HistoryRanking:
        return finish(np.asarray(stage1, dtype=float), 0.0, "no history policy")


def finish(scores: np.ndarray, weight: float, reason: str) -> HistoryRanking:
    """Rows with a non-finite score last, the rest ascending (stable: ties keep row order)."""
    scores = np.where(np.isfinite(scores), scores, np.inf)
    order = np.lexsort((np.arange(scores.size), scores))
    return HistoryRanking(scores, order, weight, reason)


def encode(params: Mapping[str, ParamValue], space: Sequence[Parameter]) -> np.ndarray:
    """A configuration as numbers: a numeric parameter on its scale (log for ``log``), mapped to
    [0, 1] over its bounds; a categorical one one-hot over its values (a numeric-looking value
    such as a batch size is also given on a log scale)."""
    out: list[float] = []
    for p in space:
        value = params[p.name]
        if p.type == "categorical":
            out += [1.0 if str(value) == v else 0.0 for v in p.values]
            numeric = [x for x in map(_float, p.values) if x is not None and x > 0]
            if len(numeric) == len(p.values):
                lo, hi = math.log(min(numeric)), math.log(max(numeric))
                x = math.log(float(str(value)))
                out.append((x - lo) / (hi - lo) if hi > lo else 0.0)
            continue
        x, lo, hi = float(value), float(p.min or 0.0), float(p.max or 0.0)
        if p.scale == "log" and lo > 0 and x > 0:
            x, lo, hi = math.log(x), math.log(lo), math.log(hi)
        out.append((x - lo) / (hi - lo) if hi > lo else 0.0)
    return np.array(out)


def _float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None
