"""Replay executor: drives the engine over precomputed trajectories instead of real trainers.

Used by tests (synthetic streams with a known truth) and by the search-quality benchmark (cached
real trajectories). Every running trial advances one window per tick, so trials started later
meet a cohort that is further ahead, as in a real asynchronous search. A window without scored
examples is reported as empty (missing data), as the scraper reports a trainer's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hypersearch.engine import Search, StartTrial, StopTrial, TrialReport, WindowStat
from hypersearch.engine.actions import Action, Finish
from hypersearch.spec.model import DataRange, ParamValue, SearchSpec


@dataclass(frozen=True)
class Curve:
    """A run's metric for each window of [start, stop), examples trained in each, and optionally
    per-stratum metrics and eval counts (for the stratified predictor).

    ``scored``: examples scored in each window. A window with none (a day without data, or none
    in the evaluation sample) is missing data, reported as empty as a trainer does; without
    ``scored`` every window counts as scored. A window that was scored but has no finite metric
    is a run that diverged (or crashed): it is reported as it is, and the engine fails the trial.
    """

    metrics: np.ndarray
    examples: np.ndarray
    strata: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    scored: np.ndarray | None = None

    def is_empty(self, i: int) -> bool:
        """Whether window ``i`` had no example to score (missing data, not a value)."""
        return self.scored is not None and bool(self.scored[i] == 0)

    def window(self, i: int) -> WindowStat:
        strata = {
            s: (float(v[i]), float(c[i]))
            for s, (v, c) in self.strata.items()
            if np.isfinite(v[i]) and c[i] > 0
        }
        count = 1.0 if self.scored is None or not np.isfinite(self.scored[i]) else self.scored[i]
        return WindowStat(float(self.metrics[i]), float(count), strata)


# params, data -> the curve of that run
Curves = Callable[[dict[str, ParamValue], DataRange], Curve]


@dataclass
class _Run:
    start: int
    curve: Curve
    cursor: int = 0


@dataclass
class ReplayResult:
    search: Search
    finish: Finish | None
    stops: list[StopTrial] = field(default_factory=list)


def replay(
    spec: SearchSpec,
    curves: Curves,
    search: Search | None = None,
    max_ticks: int | None = None,
    until: Callable[[Search], bool] | None = None,
) -> ReplayResult:
    """Run a whole search against ``curves`` (or ``max_ticks`` ticks, or until ``until``)."""
    search = search or Search(spec)
    runs: dict[int, _Run] = {}
    # A restored search's running trials restart from what they had reported.
    for t in search.trials:
        if t.state.value == "Running":
            runs[t.id] = _Run(
                t.data.start, curves(t.params, t.data), round(t.position) - t.data.start
            )
    result = ReplayResult(search, None)

    def apply(actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, StartTrial):
                runs[a.trial] = _Run(a.data.start, curves(a.params, a.data))
            elif isinstance(a, StopTrial):
                runs.pop(a.trial, None)
                result.stops.append(a)
            elif isinstance(a, Finish):
                result.finish = a  # (ReuseRun needs nothing: the trial is already complete)

    ticks = 0
    while search.phase == "Running" and (max_ticks is None or ticks < max_ticks):
        apply(search.step())
        if search.phase != "Running" or (until is not None and until(search)):
            break
        reports = {}
        for tid, run in runs.items():
            w = run.start + run.cursor
            run.cursor += 1
            empty = run.curve.is_empty(run.cursor - 1)
            reports[tid] = TrialReport(
                position=float(w + 1),
                examples=float(run.curve.examples[: run.cursor].sum()),
                windows={} if empty else {w: run.curve.window(run.cursor - 1)},
                done=run.cursor >= run.curve.metrics.size,
                empty=frozenset({w}) if empty else frozenset(),
            )
        apply(search.observe_all(reports))
        for tid, report in sorted(reports.items()):
            if report.done and tid in runs:
                runs.pop(tid)
                apply(search.finished(tid, True))
        ticks += 1
    return result
