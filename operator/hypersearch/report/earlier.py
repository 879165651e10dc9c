"""Earlier searches as history (``spec.stage1.history``, issue 16 lead 3): an earlier search's
results document (the dict of its ``results.json``, as :func:`hypersearch.report.results.
build_results` makes it for the local runner and for a cluster HyperSearch) checked against a
new search's spec and turned into the engine's :class:`hypersearch.engine.history.Search` rows.

Pure: no file or API access (the local runner and the operator read the documents). Every
problem is a :class:`HistoryError` whose message names the entry (``spec.stage1.history.
searches[0] (runs/x/results.json): parameter 'lr' has bounds [0.001, 0.1], this search [0.003,
0.3]``).
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hypersearch.engine.history import Search as HistorySearch
from hypersearch.engine.history import encode
from hypersearch.spec.model import DataRange, HistoryEntry, Parameter, SearchSpec

FINISHED = ("Succeeded", "Failed")
AT = "spec.stage1.history.searches"


class HistoryError(ValueError):
    """An earlier search that cannot be used; the message names the entry."""


@dataclass(frozen=True)
class Earlier:
    """One usable earlier search: its label (the entry's name or results path), its rows, and
    when it started (ISO time; None when its results do not say)."""

    label: str
    rows: HistorySearch
    started_at: str | None = None


def where(index: int, entry: HistoryEntry, resolved: str | None = None) -> str:
    """The field path and what it names: ``spec.stage1.history.searches[1] (runs/x)``."""
    shown = resolved or entry.label
    return f"{AT}[{index}].{entry.field} ({shown})"


def parameters_of(space: Sequence[Parameter]) -> list[dict[str, Any]]:
    """The parameter space as results.json records it."""
    return [
        {
            "name": p.name,
            "type": p.type,
            "min": p.min,
            "max": p.max,
            "scale": p.scale,
            "step": p.step,
            "values": list(p.values),
        }
        for p in space
    ]


def _bounds(p: dict[str, Any]) -> str:
    return f"[{_num(p.get('min'))}, {_num(p.get('max'))}]"


def _stop(stop: int, windows: Any) -> str:
    return f"{stop} (the end)" if stop == windows else f"{stop} of {windows} windows"


def _num(v: Any) -> str:
    return f"{v:g}" if isinstance(v, int | float) else str(v)


def differences(results: dict[str, Any], spec: SearchSpec) -> list[str]:
    """How an earlier search's results differ from ``spec`` where history needs them equal:
    objective (metric, goal, length of the evaluation window), parameter space (names, types,
    bounds, values) and stage-1 data (start, stop, rate, sampling; a stage 1 to the end of the
    stream matches one to the end of a longer stream). Empty: compatible."""
    out: list[str] = []
    if results.get("metric") != spec.metric:
        out.append(f"objective metric {results.get('metric')!r}, this search {spec.metric!r}")
    if results.get("goal") != spec.goal:
        out.append(f"objective goal {results.get('goal')!r}, this search {spec.goal!r}")
    # The stream may have grown since (a weekly search of a growing log): what must match is
    # the objective's evaluation window *length*, the last evaluationWindows of each stream.
    theirs_target = results.get("targetWindows")
    theirs_length = (
        int(theirs_target[1]) - int(theirs_target[0])
        if isinstance(theirs_target, list) and len(theirs_target) == 2
        else None
    )
    if theirs_length != spec.evaluation_windows:
        out.append(
            f"objective evaluation windows: the last {theirs_length} of the stream, this "
            f"search the last {spec.evaluation_windows}"
        )
    space = results.get("parameters")
    if not isinstance(space, list):
        out.append(
            "its results.json records no parameter space (written by an older hypersearch), "
            "so it cannot be checked against this search"
        )
    else:
        out += _space_differences(space, parameters_of(spec.parameters))
    data = results.get("stage1Data")
    if not isinstance(data, dict):
        out.append("its results.json records no stage-1 data (written by an older hypersearch)")
    else:
        mine = spec.stage1_data
        theirs_data = DataRange.from_dict(data)
        for key in ("start", "rate", "sampling"):
            a, b = getattr(theirs_data, key), getattr(mine, key)
            if a != b:
                out.append(f"stage-1 data {key} {_num(a)}, this search {_num(b)}")
        # Stage 1 to the end of each stream matches whatever each stream's length; a prefix
        # (stop before the end) must stop at the same window.
        theirs_windows = results.get("windows")
        to_end = theirs_data.stop == theirs_windows and mine.stop == spec.windows
        if not to_end and theirs_data.stop != mine.stop:
            out.append(
                f"stage-1 data stop {_stop(theirs_data.stop, theirs_windows)}, this search "
                f"{_stop(mine.stop, spec.windows)}"
            )
    return out


def _space_differences(theirs: list[dict[str, Any]], mine: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    old = {p.get("name"): p for p in theirs if isinstance(p, dict)}
    new = {p["name"]: p for p in mine}
    for name in old.keys() - new.keys():
        out.append(f"parameter {name!r} is not in this search's space")
    for name in new.keys() - old.keys():
        out.append(f"this search's parameter {name!r} is not in its space")
    for name in [n for n in new if n in old]:
        a, b = old[name], new[name]
        if a.get("type") != b["type"]:
            out.append(f"parameter {name!r} is {a.get('type')}, this search {b['type']}")
        elif b["type"] == "categorical":
            if [str(v) for v in a.get("values") or []] != b["values"]:
                out.append(
                    f"parameter {name!r} has values [{', '.join(map(str, a.get('values') or []))}]"
                    f", this search [{', '.join(b['values'])}]"
                )
        elif (a.get("min"), a.get("max")) != (b["min"], b["max"]):
            out.append(f"parameter {name!r} has bounds {_bounds(a)}, this search {_bounds(b)}")
    return sorted(out)


def group_of(params: dict[str, Any]) -> int:
    """A configuration's identity across searches (the same params, the same group)."""
    canonical = json.dumps({k: str(v) for k, v in sorted(params.items())}, sort_keys=True)
    return zlib.crc32(canonical.encode("utf-8"))


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _full_data(trial: dict[str, Any], stage2: DataRange | None) -> bool:
    """Whether a stage-1 run trained on exactly the full-training data (its target is one)."""
    if stage2 is None or trial.get("state") != "Completed":
        return False
    data = DataRange.from_dict(trial.get("data") or {"start": -1, "stop": -1})
    return (
        (data.start, data.stop) == (stage2.start, stage2.stop)
        and data.rate >= stage2.rate
        and data.rate >= 1.0
        and data.eval_rate >= 1.0
    )


def history_rows(results: dict[str, Any], spec: SearchSpec, horizon: int = 0) -> HistorySearch:
    """The engine's rows of an earlier search: one per stage-1 configuration, its params encoded
    over ``spec``'s space, its stage-1 target (observed where its run scored every evaluation
    window, else predicted; the sign-adjusted value the planner ranks by) and its full-data
    target (a finished stage-2 run's, or its own when it trained on full data; NaN otherwise).
    Raises :class:`HistoryError` (without the entry's name) when it cannot be used."""
    phase = results.get("phase")
    if phase not in FINISHED:
        raise HistoryError(f"the search is not finished (phase {phase})")
    problems = differences(results, spec)
    if problems:
        raise HistoryError("; ".join(problems))
    sign = spec.sign
    trials = [t for t in results.get("trials") or [] if isinstance(t, dict)]
    raw2 = results.get("stage2Data")
    stage2 = DataRange.from_dict(raw2) if isinstance(raw2, dict) else None
    full_of: dict[Any, float] = {}
    for t in trials:
        final = _finite(t.get("final"))
        if t.get("stage") == 2 and t.get("state") == "Completed" and final is not None:
            full_of[t.get("source")] = final
    features, stage1, full, groups = [], [], [], []
    for t in trials:
        if t.get("stage") != 1:
            continue
        params = t.get("params") or {}
        missing = [p.name for p in spec.parameters if p.name not in params]
        if missing:
            raise HistoryError(f"trial {t.get('name')} has no value for {', '.join(missing)}")
        try:
            features.append(encode(params, spec.parameters))
        except (TypeError, ValueError) as e:
            raise HistoryError(
                f"trial {t.get('name')} has params this space cannot hold: {e}"
            ) from e
        observed = _finite(t.get("observed"))
        value = observed if observed is not None else _finite(t.get("predicted"))
        stage1.append(sign * value if value is not None else math.nan)
        target = full_of.get(t.get("id"))
        if target is None and observed is not None and _full_data(t, stage2):
            target = observed
        full.append(sign * target if target is not None else math.nan)
        groups.append(group_of(params))
    rows = HistorySearch(
        features=np.array(features, dtype=float).reshape(len(stage1), -1),
        stage1=np.array(stage1, dtype=float),
        full=np.array(full, dtype=float),
        groups=np.array(groups, dtype=np.int64),
        horizon=horizon,
    )
    if not rows.known().any():
        raise HistoryError(
            "the search has no configuration with both a stage-1 and a full-data target "
            "(no stage-2 run finished)"
        )
    return rows


def earlier_search(
    results: dict[str, Any], spec: SearchSpec, index: int, entry: HistoryEntry, shown: str = ""
) -> Earlier:
    """:func:`history_rows` with a :class:`HistoryError` that names the entry."""
    try:
        rows = history_rows(results, spec)
    except HistoryError as e:
        raise HistoryError(f"{where(index, entry, shown)}: {e}") from e
    started = results.get("startedAt")
    return Earlier(entry.label, rows, started if isinstance(started, str) else None)


def ordered(earlier: Sequence[Earlier]) -> dict[str, HistorySearch]:
    """The searches by label, oldest first (by start time; entry order where unknown), each
    with its ``horizon`` set to its place in that order."""
    keyed = sorted(
        enumerate(earlier), key=lambda p: (p[1].started_at is None, p[1].started_at or "", p[0])
    )
    out: dict[str, HistorySearch] = {}
    for horizon, (_, e) in enumerate(keyed):
        r = e.rows
        out[e.label] = HistorySearch(r.features, r.stage1, r.full, r.groups, horizon)
    return out


__all__ = [
    "AT",
    "Earlier",
    "HistoryError",
    "differences",
    "earlier_search",
    "group_of",
    "history_rows",
    "ordered",
    "parameters_of",
    "where",
]
