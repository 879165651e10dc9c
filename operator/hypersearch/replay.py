"""Replay executor: drives the engine over precomputed trajectories instead of real trainers.

Used by tests (synthetic streams with a known truth) and by the search-quality benchmark (cached
real trajectories). Every running trial advances one window per tick, so trials started later
meet a cohort that is further ahead, as in a real asynchronous search.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from hypersearch.engine import Finish, Search, StartTrial, StopTrial, TrialReport, WindowStat
from hypersearch.engine.actions import Action
from hypersearch.spec.model import DataRange, ParamValue, SearchSpec

# params, data -> (metric of each window in [start, stop), examples trained in each window)
Curves = Callable[[dict[str, ParamValue], DataRange], tuple[np.ndarray, np.ndarray]]


@dataclass
class _Run:
    start: int
    metrics: np.ndarray
    examples: np.ndarray
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
) -> ReplayResult:
    """Run a whole search (or ``max_ticks`` ticks of it) against ``curves``."""
    search = search or Search(spec)
    runs: dict[int, _Run] = {}
    # A restored search's running trials restart from what they had reported.
    for t in search.trials:
        if t.state.value == "Running":
            metrics, examples = curves(t.params, t.data)
            done = round(t.position) - t.data.start
            runs[t.id] = _Run(t.data.start, metrics, examples, done)
    result = ReplayResult(search, None)

    def apply(actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, StartTrial):
                metrics, examples = curves(a.params, a.data)
                runs[a.trial] = _Run(a.data.start, metrics, examples)
            elif isinstance(a, StopTrial):
                runs.pop(a.trial, None)
                result.stops.append(a)
            else:
                result.finish = a

    ticks = 0
    while search.phase == "Running" and (max_ticks is None or ticks < max_ticks):
        apply(search.step())
        if search.phase != "Running":
            break
        for tid in sorted(runs):
            run = runs.get(tid)
            if run is None:
                continue
            w = run.start + run.cursor
            run.cursor += 1
            done = run.cursor >= run.metrics.size
            report = TrialReport(
                position=float(w + 1),
                examples=float(run.examples[: run.cursor].sum()),
                windows={w: WindowStat(float(run.metrics[run.cursor - 1]), 1.0)},
                done=done,
            )
            apply(search.observe(tid, report))
            if done and tid in runs:
                runs.pop(tid)
                apply(search.finished(tid, True))
        ticks += 1
    return result
