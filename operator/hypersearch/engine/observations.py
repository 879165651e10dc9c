"""What executors report about a trial, and the dense table the policies compute on.

A trial reports per-window means (progressive validation, so a window's value is final once the
window is complete), optionally per stratum, plus its data position and training examples.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Distinct strata one search keeps (each costs two trials x windows matrices).
MAX_STRATA = 64


@dataclass(frozen=True)
class WindowStat:
    """The metric of one completed window: its mean, eval count, and optional per-stratum means."""

    value: float
    count: float = 0.0
    strata: dict[str, tuple[float, float]] = field(default_factory=dict)

    def to_list(self) -> list[Any]:
        return [self.value, self.count, {k: list(v) for k, v in sorted(self.strata.items())}]

    @classmethod
    def from_list(cls, raw: list[Any]) -> WindowStat:
        value, count, strata = raw
        return cls(
            float(value), float(count), {k: (float(v[0]), float(v[1])) for k, v in strata.items()}
        )


@dataclass(frozen=True)
class TrialReport:
    """One scrape of a trial: position reached, examples trained, windows completed so far.

    ``cpu_seconds`` / ``gpu_seconds`` are the trainer's own compute counters (cumulative since
    the run started); None when it does not export them, and the executor measures instead.
    """

    position: float
    examples: float
    windows: dict[int, WindowStat] = field(default_factory=dict)
    done: bool = False
    cpu_seconds: float | None = None
    gpu_seconds: float | None = None


def report_problem(
    report: TrialReport, windows: int, known_strata: Collection[str] = ()
) -> str | None:
    """Why a report is garbage (and the trial must fail), or None when it is sound.

    The one place reports are checked: executors pass what trainers serve unfiltered. Going
    back is not garbage (a trainer resumed from an older checkpoint catches up; see
    :func:`catching_up`). ``known_strata`` are the strata the search has seen so far: each new
    one costs two trials x windows matrices, so a search never holds more than
    :data:`MAX_STRATA`.
    """
    if not math.isfinite(report.position) or report.position < 0:
        return f"reported an invalid position {report.position!r}"
    if not math.isfinite(report.examples) or report.examples < 0:
        return f"reported an invalid example count {report.examples!r}"
    for what, value in (("CPU", report.cpu_seconds), ("GPU", report.gpu_seconds)):
        if value is not None and (not math.isfinite(value) or value < 0):
            return f"reported invalid {what}-seconds {value!r}"
    for w, stat in report.windows.items():
        if not 0 <= w < windows:
            return f"reported window {w}, outside the stream's {windows} windows"
        if not math.isfinite(stat.value):
            return f"reported a non-finite metric ({stat.value!r}) for window {w}"
        if not math.isfinite(stat.count) or stat.count < 0:
            return f"reported an invalid eval count ({stat.count!r}) for window {w}"
        for stratum, (value, count) in stat.strata.items():
            if not math.isfinite(value) or not math.isfinite(count) or count < 0:
                return f"reported garbage for stratum {stratum[:64]!r} of window {w}"
    new = {s for stat in report.windows.values() for s in stat.strata} - set(known_strata)
    if len(known_strata) + len(new) > MAX_STRATA:
        return (
            f"reported {len(known_strata) + len(new)} distinct strata; a search keeps at most "
            f"{MAX_STRATA}"
        )
    return None


class ObservationTable:
    """Dense trials-by-windows matrices, updated in place so a decision round stays cheap.

    Values are sign-adjusted (``sign * metric``) so that lower is always better. Missing cells are
    NaN. The table is a cache: it is rebuilt from the trials' plain-data windows on restore.
    """

    def __init__(self, windows: int, sign: float, capacity: int = 64) -> None:
        self.windows = windows
        self.sign = sign
        self.values = np.full((capacity, windows), np.nan)
        self.counts = np.zeros((capacity, windows))
        self.strata: dict[str, np.ndarray] = {}
        self.strata_counts: dict[str, np.ndarray] = {}
        self.rows = 0

    def _grow(self, rows: int) -> None:
        cap = self.values.shape[0]
        if rows <= cap:
            return
        new = max(rows, 2 * cap)

        def grown(a: np.ndarray, fill: float) -> np.ndarray:
            b = np.full((new, self.windows), fill)
            b[:cap] = a
            return b

        self.values = grown(self.values, np.nan)
        self.counts = grown(self.counts, 0.0)
        for s in self.strata:
            self.strata[s] = grown(self.strata[s], np.nan)
            self.strata_counts[s] = grown(self.strata_counts[s], 0.0)

    def record(self, row: int, windows: dict[int, WindowStat]) -> None:
        self._grow(row + 1)
        self.rows = max(self.rows, row + 1)
        for w, stat in windows.items():
            self.values[row, w] = self.sign * stat.value
            self.counts[row, w] = stat.count
            for s, (value, count) in stat.strata.items():
                if s not in self.strata:
                    self.strata[s] = np.full(self.values.shape, np.nan)
                    self.strata_counts[s] = np.zeros(self.values.shape)
                self.strata[s][row, w] = self.sign * value
                self.strata_counts[s][row, w] = count
