"""The stopping-rule interface: at a checkpoint, stop this trial (with a reason) or let it run.

Rules compare trials **at the same windows**: a :class:`Rung` only holds windows before the
checkpoint, and the cohort is every trial that got that far (stopped ones included, as in ASHA),
so a run's day-30 loss is never compared with another's day-10 loss.

A rule is built from its own settings (``AshaStopping(eta=3, min_cohort=4)``), as Optuna's
pruners are; :func:`hypersearch.engine.stopping.stopping_rule_from_spec` builds the one a spec
names. A decision is two calls on plain data: :meth:`StoppingRule.rank` does the work that every
trial judged at the same rung shares (the caller may reuse its result for all of them), and
:meth:`StoppingRule.decide` judges one row against it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np


def geometric_rungs(
    start: int,
    stop: int,
    *,
    eta: float = 3.0,
    compare_windows: int = 7,
    rungs: Sequence[float] = (),
    min_position: float | None = None,
) -> list[float]:
    """Explicit ``rungs``, or ``first + (first - start) * eta^k`` below ``stop``.

    The default first rung leaves at least ``compare_windows`` windows to compare on, since a
    decision after one or two windows mostly ranks how fast runs start, not where they end.
    """
    if rungs:
        return list(rungs)
    span = stop - start
    default = start + max(float(compare_windows), span / eta**3)
    first = min_position or default
    out = []
    r = first - start
    while start + r < stop - 1e-9:
        out.append(float(math.ceil(start + r)))
        r *= eta
    return sorted(set(out))


@dataclass(frozen=True)
class Rung:
    """One checkpoint as a rule sees it: plain data, restricted to windows before ``position``.

    ``values`` is sign-adjusted (lower is better), trials by windows from the stage-1 start up to
    the rung (the last column is the window just before it), NaN where unobserved. ``cohort``
    holds the rows that reached the rung. ``predicted``/``predicted_std`` are every row's
    predicted target from those windows, given to rules that set ``uses_predictions``.
    ``names`` are the trials' names, for reasons.
    """

    position: float
    cohort: np.ndarray
    values: np.ndarray
    names: Sequence[str]
    predicted: np.ndarray | None = None
    predicted_std: np.ndarray | None = None


@dataclass(frozen=True)
class Standing:
    """A rung's cohort ranked once: every row's ``scores``, the cohort's finite scores sorted
    (``ordered``) and the best row (``leader``, -1 when none)."""

    scores: np.ndarray
    ordered: np.ndarray
    leader: int = -1


def standing_of(scores: np.ndarray, cohort: np.ndarray) -> Standing:
    """Sort the cohort's finite ``scores`` once, so each decision is a binary search."""
    ranked = cohort[np.isfinite(scores[cohort])]
    leader = int(ranked[np.argmin(scores[ranked])]) if ranked.size else -1
    return Standing(scores, np.sort(scores[ranked]), leader)


def row_means(values: np.ndarray) -> np.ndarray:
    """Mean of each row's observed cells; NaN for a row with none (no warnings)."""
    counts = (~np.isnan(values)).sum(axis=1)
    sums = np.where(np.isnan(values), 0.0, values).sum(axis=1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def recent_columns(rung: Rung, count: int) -> np.ndarray:
    """The rung's last ``count`` windows that some trial of its cohort observed (all rows).

    A window that is empty for the whole cohort (no examples: an outage, a holiday) holds no
    comparison, so it is skipped instead of leaving fewer windows, or none, to compare on.
    """
    values = rung.values
    observed = np.flatnonzero(~np.isnan(values[rung.cohort]).all(axis=0))
    picked: np.ndarray = values[:, observed[-count:]] if count > 0 else values[:, :0]
    return picked


class StoppingRule(ABC):
    """Decides at checkpoints; implementations are chosen by ``name`` in the spec.

    ``metric``, ``goal_sign`` (+1 when the metric is minimised, -1 when maximised) and
    ``window_name`` only word the reasons: the data a rule is given is already sign-adjusted.
    """

    name: ClassVar[str]
    uses_predictions: ClassVar[bool] = False

    def __init__(
        self, *, metric: str = "metric", goal_sign: float = 1.0, window_name: str = "window"
    ) -> None:
        self.metric = metric
        self.goal_sign = goal_sign
        self.window_name = window_name

    @abstractmethod
    def checkpoints(self, start: int, stop: int) -> list[float]:
        """Data positions at which :meth:`decide` is called for a trial training ``[start, stop)``."""

    @abstractmethod
    def rank(self, rung: Rung) -> Standing:
        """The work shared by every trial judged at ``rung`` with the same observations."""

    @abstractmethod
    def decide(self, rung: Rung, standing: Standing, row: int) -> str | None:
        """The reason to stop trial ``row`` now, or None to let it continue.

        Args:
            rung: the checkpoint, its cohort and their time-aligned observations.
            standing: :meth:`rank` of this rung (or of an identical one).
            row: the trial judged.
        Returns:
            A readable stop reason, or None.
        """

    def where(self, rung: Rung) -> str:
        return f"{self.window_name} {rung.position:g}"

    def score(self, value: float) -> str:
        """A sign-adjusted score as the user's metric, e.g. ``logloss 0.4521``."""
        return f"{self.metric} {self.goal_sign * value:.4f}"


def relative(score: float, best: float) -> str:
    """How much worse than ``best`` (in % of the metric, positive = worse)."""
    denom = abs(best) if best else 1.0
    return f"{100.0 * (score - best) / denom:+.2f}%"


class TopFractionRule(StoppingRule):
    """Keep the top ``1/eta`` of a rung's cohort once ``min_cohort`` trials reached it; rungs are
    :func:`geometric_rungs` (shared by ASHA and performance-based stopping)."""

    label: ClassVar[str]

    def __init__(
        self,
        *,
        eta: float = 3.0,
        min_cohort: int = 4,
        compare_windows: int = 7,
        rungs: Sequence[float] = (),
        min_position: float | None = None,
        metric: str = "metric",
        goal_sign: float = 1.0,
        window_name: str = "window",
    ) -> None:
        super().__init__(metric=metric, goal_sign=goal_sign, window_name=window_name)
        self.eta = eta
        self.min_cohort = min_cohort
        self.compare_windows = compare_windows
        self.rungs = tuple(rungs)
        self.min_position = min_position

    def checkpoints(self, start: int, stop: int) -> list[float]:
        return geometric_rungs(
            start,
            stop,
            eta=self.eta,
            compare_windows=self.compare_windows,
            rungs=self.rungs,
            min_position=self.min_position,
        )

    def verdict(self, rung: Rung, standing: Standing, scores: np.ndarray, row: int) -> str | None:
        """The stop reason when ``scores[row]`` ranks outside the top 1/eta, else None."""
        mine = float(scores[row])
        ordered = standing.ordered
        if not np.isfinite(mine) or ordered.size < self.min_cohort:
            return None
        keep = max(1, math.floor(ordered.size / self.eta))
        rank = int(np.searchsorted(ordered, mine, side="left")) + 1
        if rank <= keep:
            return None
        best = float(scores[standing.leader])
        return (
            f"stopped at {self.where(rung)}: {self.label} {self.score(mine)} "
            f"({relative(mine, best)} vs. best {rung.names[standing.leader]}), "
            f"rank {rank}/{ordered.size}, outside the top 1/{self.eta:g} at this rung"
        )
