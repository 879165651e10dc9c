"""The stopping-rule interface: at a checkpoint, stop this trial (with a reason) or let it run.

Rules compare trials **at the same windows**: a context only holds windows before the checkpoint,
and the cohort is every trial that got that far (stopped ones included, as in ASHA), so a run's
day-30 loss is never compared with another's day-10 loss.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hypersearch.spec.model import SearchSpec


def geometric_rungs(spec: SearchSpec) -> list[float]:
    """Explicit rungs, or ``start + (min - start) * eta^k`` below the stage-1 stop.

    The default first rung leaves at least ``compareWindows`` windows to compare on, since a
    decision after one or two windows mostly ranks how fast runs start, not where they end.
    """
    if spec.stopping.rungs:
        return list(spec.stopping.rungs)
    start, stop, eta = spec.stage1_data.start, spec.stage1_data.stop, spec.stopping.eta
    span = stop - start
    default = start + max(float(spec.stopping.compare_windows), span / eta**3)
    first = spec.stopping.min_position or default
    rungs = []
    r = first - start
    while start + r < stop - 1e-9:
        rungs.append(float(math.ceil(start + r)))
        r *= eta
    return sorted(set(rungs))


@dataclass
class RungContext:
    """One decision: trial ``row`` has reached ``position``; ``values`` holds windows < cutoff."""

    spec: SearchSpec
    position: float
    row: int
    cohort: np.ndarray
    values: np.ndarray
    predict: Callable[[], tuple[np.ndarray, np.ndarray]]
    name_of: Callable[[int], str]
    memo: Callable[[str, Callable[[], Any]], Any]

    @property
    def cutoff(self) -> int:
        return math.floor(self.position + 1e-9)

    @property
    def compared(self) -> slice:
        """The recent windows a rung compares: [cutoff - compareWindows, cutoff)."""
        lo = max(self.spec.stage1_data.start, self.cutoff - self.spec.stopping.compare_windows)
        return slice(lo, self.cutoff)

    def metric(self, score: float) -> str:
        """A sign-adjusted score as the user's metric, e.g. ``logloss 0.4521``."""
        return f"{self.spec.metric} {self.spec.sign * score:.4f}"

    def where(self) -> str:
        return f"{self.spec.window_name} {self.position:g}"

    def relative(self, score: float, best: float) -> str:
        """How much worse than ``best`` (in % of the metric, positive = worse)."""
        denom = abs(best) if best else 1.0
        return f"{100.0 * (score - best) / denom:+.2f}%"


def row_means(values: np.ndarray) -> np.ndarray:
    """Mean of each row's observed cells; NaN for a row with none (no warnings)."""
    counts = (~np.isnan(values)).sum(axis=1)
    sums = np.where(np.isnan(values), 0.0, values).sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def rank_verdict(ctx: RungContext, scores: np.ndarray, label: str) -> str | None:
    """Top-1/eta rule shared by ASHA and performance: the stop reason, or None to continue."""
    mine = float(scores[ctx.row])

    def ranked() -> tuple[np.ndarray, int]:
        cohort = ctx.cohort[np.isfinite(scores[ctx.cohort])]
        return np.sort(scores[cohort]), int(
            cohort[np.argmin(scores[cohort])]
        ) if cohort.size else -1

    # Every trial crossing this rung in one round shares the sorted cohort: O(log n) a decision.
    ordered, leader = ctx.memo(f"rank:{label}", ranked)
    if not np.isfinite(mine) or ordered.size < ctx.spec.stopping.min_cohort:
        return None
    eta = ctx.spec.stopping.eta
    keep = max(1, math.floor(ordered.size / eta))
    rank = int(np.searchsorted(ordered, mine, side="left")) + 1
    if rank <= keep:
        return None
    best = float(scores[leader])
    return (
        f"stopped at {ctx.where()}: {label} {ctx.metric(mine)} "
        f"({ctx.relative(mine, best)} vs. best {ctx.name_of(leader)}), "
        f"rank {rank}/{ordered.size}, outside the top 1/{eta:g} at this rung"
    )


class StoppingRule(ABC):
    """Decides at checkpoints; implementations are chosen by ``name`` in the spec."""

    name: ClassVar[str]

    def checkpoints(self, spec: SearchSpec) -> list[float]:
        """Data positions at which :meth:`decide` is called for each stage-1 trial."""
        return geometric_rungs(spec)

    @abstractmethod
    def decide(self, ctx: RungContext) -> str | None:
        """The reason to stop trial ``ctx.row`` now, or None to let it continue.

        Args:
            ctx: the trial, its cohort at this checkpoint and their time-aligned observations.
        Returns:
            A readable stop reason, or None.
        """
