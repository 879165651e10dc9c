"""Cost accounting in training examples, the unit of DESIGN section 4."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from hypersearch.engine.trial import Trial, TrialState


@dataclass(frozen=True)
class Cost:
    """Examples trained per stage, and the reduction against running every config fully."""

    stage1: float
    stage2: float
    full_run: float | None
    configurations: int

    @property
    def total(self) -> float:
        return self.stage1 + self.stage2

    @property
    def full_search(self) -> float | None:
        return None if self.full_run is None else self.full_run * self.configurations

    @property
    def reduction(self) -> float | None:
        full = self.full_search
        return None if full is None or self.total <= 0 else full / self.total

    def to_dict(self) -> dict[str, float | None]:
        reduction = self.reduction
        return {
            "stage1Examples": self.stage1,
            "stage2Examples": self.stage2,
            "totalExamples": self.total,
            "fullRunExamples": self.full_run,
            "fullSearchExamples": self.full_search,
            "reduction": None if reduction is None else round(reduction, 2),
        }


def full_run_examples(trials: Iterable[Trial], windows: int) -> float | None:
    """Examples in one full-data run over the whole stream.

    Exact from a completed full-data stage-2 run; otherwise estimated from stage-1 runs as
    examples / rate scaled to the whole stream (median over trials with a window or more).
    """
    estimates = []
    for t in trials:
        full = t.data.rate >= 1.0 and t.data.start == 0 and t.data.stop >= windows
        if t.state is TrialState.COMPLETED and full and t.examples > 0:  # not a reused run
            return t.examples
        covered = min(t.position, t.data.stop) - t.data.start
        if covered >= 1.0 and t.examples > 0:
            estimates.append(t.examples / t.data.rate * windows / covered)
    return float(np.median(estimates)) if estimates else None
