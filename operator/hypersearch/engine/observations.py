"""What executors report about a trial, and the dense table the policies compute on.

A trial reports per-window means (progressive validation, so a window's value is final once the
window is complete), optionally per stratum, plus its data position and training examples.
"""

from __future__ import annotations

import base64
import math
import zlib
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


# Significant bits kept of each stratum's mean and count (relative error <= 2^-15 and 2^-13).
# Per-stratum means are noisier than that by orders of magnitude, and counts are only mix
# weights; rounding them once, as they arrive, keeps a trial's record within its budget in the
# cluster (docs/engine.md, "records") while the engine decides on exactly what it stores.
STRATUM_VALUE_BITS = 14
STRATUM_COUNT_BITS = 12


def _round_bits(x: float, bits: int) -> float:
    """``x`` rounded to ``bits`` significant bits (exact in float32 for every usual magnitude)."""
    if x == 0.0 or not math.isfinite(x):
        return x
    m, e = math.frexp(x)
    return math.ldexp(round(m * (1 << bits)) / (1 << bits), e)


def quantised(stat: WindowStat) -> WindowStat:
    """``stat`` as the engine keeps it: the window's own mean and count exact, its strata's
    rounded to :data:`STRATUM_VALUE_BITS` / :data:`STRATUM_COUNT_BITS` significant bits."""
    if not stat.strata:
        return stat
    return WindowStat(
        stat.value,
        stat.count,
        {
            s: (_round_bits(v, STRATUM_VALUE_BITS), _round_bits(n, STRATUM_COUNT_BITS))
            for s, (v, n) in stat.strata.items()
        },
    )


def same_window(old: WindowStat | None, new: WindowStat) -> bool:
    """Whether a re-served window is the one already recorded. A completed window's figures are
    final (progressive validation), so its own mean, count and strata names identify it; its
    strata's means are not compared again (they are stored rounded, see :func:`quantised`)."""
    return (
        old is not None
        and old.value == new.value
        and old.count == new.count
        and old.strata.keys() == new.strata.keys()
    )


def _pack(a: np.ndarray) -> str:
    """A float array as base64 of zlib of its bytes, grouped by byte position (the rounded
    low bytes then compress to almost nothing): float32 where that is exact, else float64."""
    narrow = a.astype("<f4")
    wide = not np.array_equal(narrow.astype("<f8"), a, equal_nan=True)
    raw = np.ascontiguousarray(a, dtype="<f8") if wide else np.ascontiguousarray(narrow)
    width = raw.dtype.itemsize
    shuffled = raw.reshape(-1).view(np.uint8).reshape(-1, width).T.tobytes()
    return ("d" if wide else "f") + base64.b64encode(zlib.compress(shuffled, 9)).decode("ascii")


def _unpack(text: str, size: int) -> np.ndarray:
    width = {"d": 8, "f": 4}[text[0]]
    shuffled = np.frombuffer(zlib.decompress(base64.b64decode(text[1:])), dtype=np.uint8)
    if shuffled.size != size * width:
        raise ValueError(f"a packed array holds {shuffled.size} bytes, not {size * width}")
    raw = shuffled.reshape(width, size).T.copy().view("<f8" if width == 8 else "<f4")
    return raw.reshape(size).astype(float)


def _runs(keys: list[int]) -> list[list[int]]:
    """Sorted window indices as ``[start, stop)`` runs (a trial's windows are usually one run;
    an empty window or a lost one is a hole between two)."""
    runs: list[list[int]] = []
    for w in keys:
        if runs and runs[-1][1] == w:
            runs[-1][1] = w + 1
        else:
            runs.append([w, w + 1])
    return runs


def encode_window_set(windows: Collection[int]) -> list[list[int]]:
    """A set of window indices as sorted ``[start, stop)`` runs (plain data)."""
    return _runs(sorted(set(windows)))


def decode_window_set(raw: Any) -> set[int]:
    """:func:`encode_window_set` undone (an absent or empty value is the empty set)."""
    return {w for start, stop in raw or [] for w in range(int(start), int(stop))}


def encode_windows(windows: dict[int, WindowStat]) -> Any:
    """A trial's windows as compact plain data (lossless): the windows as runs, their means and
    counts, and a windows-by-strata matrix of means and counts (NaN where a stratum is absent).

    365 windows x 32 strata take about 50 KB instead of 420 KB as one list per window.
    """
    if not windows:
        return []
    keys = sorted(windows)
    strata = sorted({s for stat in windows.values() for s in stat.strata})
    out: dict[str, Any] = {
        "runs": _runs(keys),
        "value": _pack(np.array([windows[w].value for w in keys])),
        "count": _pack(np.array([windows[w].count for w in keys])),
    }
    if strata:
        index = {s: i for i, s in enumerate(strata)}
        values = np.full((len(keys), len(strata)), np.nan)
        counts = np.full((len(keys), len(strata)), np.nan)
        for row, w in enumerate(keys):
            for s, (v, n) in windows[w].strata.items():
                values[row, index[s]] = v
                counts[row, index[s]] = n
        out.update(strata=strata, strataValue=_pack(values.T), strataCount=_pack(counts.T))
    return out


def decode_windows(raw: Any) -> dict[int, WindowStat]:
    """:func:`encode_windows` undone; also reads the older form, one ``[w, value, count,
    {stratum: [value, count]}]`` list per window."""
    if isinstance(raw, list):
        return {int(w[0]): WindowStat.from_list(w[1:]) for w in raw}
    keys = [w for start, stop in raw["runs"] for w in range(int(start), int(stop))]
    values = _unpack(raw["value"], len(keys))
    counts = _unpack(raw["count"], len(keys))
    strata = [str(s) for s in raw.get("strata") or []]
    per: list[dict[str, tuple[float, float]]] = [{} for _ in keys]
    if strata:
        size = len(keys) * len(strata)
        sv = _unpack(raw["strataValue"], size).reshape(len(strata), len(keys))
        sc = _unpack(raw["strataCount"], size).reshape(len(strata), len(keys))
        for i, s in enumerate(strata):
            for row in np.flatnonzero(~np.isnan(sv[i])):
                per[row][s] = (float(sv[i, row]), float(sc[i, row]))
    return {
        w: WindowStat(float(values[row]), float(counts[row]), per[row])
        for row, w in enumerate(keys)
    }


@dataclass(frozen=True)
class TrialReport:
    """One scrape of a trial: position reached, examples trained, windows completed so far.

    ``cpu_seconds`` / ``gpu_seconds`` are the trainer's own compute counters (cumulative since
    the run started); None when it does not export them, and the executor measures instead.
    ``empty`` are completed windows that had no example to score (an outage, a holiday, a
    quiet hour): missing data, not a value. They are never in ``windows``; a window that is
    neither there nor here is simply not known (not reached yet, or not served).
    """

    position: float
    examples: float
    windows: dict[int, WindowStat] = field(default_factory=dict)
    done: bool = False
    cpu_seconds: float | None = None
    gpu_seconds: float | None = None
    empty: frozenset[int] = frozenset()


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
    for w in report.empty:
        if not 0 <= w < windows:
            return f"reported window {w} as empty, outside the stream's {windows} windows"
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
