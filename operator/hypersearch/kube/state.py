"""Engine state in the cluster: split into Trial statuses and the HyperSearch status.

Each Trial resource's ``status.record`` is the engine's record of that trial (every window,
needed for an exact resume, in the compact form of
:func:`hypersearch.engine.observations.encode_windows`: about 50 KB at 365
windows x 32 strata, within a 64 KiB budget) beside a down-sampled ``trajectory`` for people; the HyperSearch
status holds the search-level part (phase, stage, promoted, winner). :func:`engine_state`
joins them back into :meth:`Search.to_state` form.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypersearch.engine import Search, Trial
from hypersearch.engine.planner import STATE_VERSION
from hypersearch.engine.trial import TrialState
from hypersearch.kube.usage import PodUse
from hypersearch.monitor.health import deadline_of
from hypersearch.scrape import SumCountState
from hypersearch.spec.model import DataRange, SearchSpec

Obj = dict[str, Any]
TRAJECTORY_POINTS = 40
# Record keys that may be null; the API server drops null values, so they come back absent.
_NULLABLE = (
    "predicted", "predictedStd", "source", "final", "cpuSeconds", "gpuSeconds", "computeSource"
)  # fmt: skip
# Keys of the packed ``windows`` form that only some values have (see ``encode_windows``).
_STRATA_KEYS = ("strata", "strataValue", "strataCount")


def spec_digest(spec: Obj) -> str:
    """Fingerprint of the spec a search started with (edits after start are refused)."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def trajectory(trial: Trial, limit: int = TRAJECTORY_POINTS) -> list[list[float]]:
    """At most ``limit`` evenly spaced [window, value] points, always keeping the last one."""
    points = [[float(w), round(s.value, 6)] for w, s in sorted(trial.windows.items())]
    if len(points) <= limit:
        return points
    step = len(points) / limit
    picked = [points[int(i * step)] for i in range(limit - 1)]
    return [*picked, points[-1]]


def decision_predicted(trial: Trial) -> float | None:
    """The prediction behind the trial's latest decision (the ``PREDICTED`` column): for a
    trial stopped on a prediction, the one made at that rung from the windows before it (the
    value its reason quotes); otherwise the latest, which at the end of stage 1 is re-made
    from all the windows (what promotion ranks by)."""
    value = trial.decision_predicted if trial.state is TrialState.STOPPED else None
    if value is None:
        value = trial.predicted
    return None if value is None else round(value, 6)


def _replacing(value: Obj, absent: tuple[str, ...]) -> Obj:
    """``value`` with each of the ``absent`` keys it lacks set to null: the status is
    merge-patched, where a key left out keeps its old value and null deletes it."""
    return {**dict.fromkeys(absent), **value}


def trial_status(
    trial: Trial, pods: dict[str, PodUse] | None = None, sumcount: Obj | None = None
) -> Obj:
    """The Trial resource's status: display fields, the exact engine record, the ledger of
    the trial's pods (requests and lifetimes, see :mod:`hypersearch.kube.usage`) and, for a
    ``sumcount`` objective, the counter readings at the last window boundary
    (:meth:`hypersearch.scrape.SumCountState.to_dict`), so a restart leaves no hole."""
    status: Obj = {
        "state": trial.state.value,
        "reason": trial.reason,
        "position": round(trial.position, 3),
        "examples": trial.examples,
        "cpuSeconds": None if trial.cpu_seconds is None else round(trial.cpu_seconds, 3),
        "gpuSeconds": None if trial.gpu_seconds is None else round(trial.gpu_seconds, 3),
        "computeSource": trial.compute_source,
        "predicted": None if trial.predicted is None else round(trial.predicted, 6),
        "predictedStd": None if trial.predicted_std is None else round(trial.predicted_std, 6),
        "decisionPredicted": decision_predicted(trial),
        "final": trial.final,
        "trajectory": trajectory(trial),
        "record": trial.to_dict(),
        # Set by Kube.patch_status when a figure is not finite; cleared by any later write.
        "nonFinite": None,
    }
    if trial.state is TrialState.FAILED:
        # Why, as a standard condition: a missed deadline by its name (see monitor.health).
        status["conditions"] = [
            {
                "type": "Failed",
                "status": "True",
                "reason": deadline_of(trial.reason) or "TrialFailed",
                "message": trial.reason[:1024],
            }
        ]
    if pods:
        status["pods"] = {uid: use.to_dict() for uid, use in sorted(pods.items())}
    if sumcount is not None:
        # What this state lacks is sent as null: an ``empty`` list or strata matrix of an
        # earlier write would otherwise stay in the cluster and come back after a restart.
        status["sumcount"] = _replacing(sumcount, ("empty",))
        windows = sumcount.get("windows")
        if isinstance(windows, dict):
            status["sumcount"]["windows"] = _replacing(windows, _STRATA_KEYS)
    return status


def sumcount_states(resources: list[Obj]) -> dict[int, SumCountState]:
    """The ``sumcount`` states kept in the Trial statuses, by trial id."""
    out: dict[int, SumCountState] = {}
    for r in resources:
        raw = (r.get("status") or {}).get("sumcount")
        state = SumCountState.from_dict(raw) if raw else None
        if state is None or state.boundary is None:
            continue
        try:
            out[int(r["spec"]["id"])] = state
        except (KeyError, TypeError, ValueError):
            continue
    return out


def pod_ledgers(resources: list[Obj]) -> dict[int, dict[str, PodUse]]:
    """The pod ledgers kept in the Trial statuses, by trial id (unreadable entries skipped)."""
    out: dict[int, dict[str, PodUse]] = {}
    for r in resources:
        raw = (r.get("status") or {}).get("pods") or {}
        ledger = {}
        for uid, entry in raw.items():
            try:
                ledger[str(uid)] = PodUse.from_dict(entry)
            except (KeyError, TypeError, ValueError):
                continue
        try:
            tid = int(r["spec"]["id"])
        except (KeyError, TypeError, ValueError):
            continue
        if ledger:
            out[tid] = ledger
    return out


def fresh_trial(resource: Obj) -> Trial:
    """A trial's record from its Trial spec alone (created, but its status never written)."""
    spec = resource["spec"]
    return Trial(
        id=int(spec["id"]),
        name=resource["metadata"]["name"],
        stage=int(spec["stage"]),
        params=dict(spec.get("params") or {}),
        data=DataRange.from_dict(spec["data"]),
        source=spec.get("source"),
    )


def missing_trial(spec: SearchSpec, index: int) -> Trial:
    """Stand-in for a stage-1 Trial resource deleted by hand while the operator was away."""
    return Trial(
        id=index,
        name=f"{spec.name}-{index:03d}",
        stage=1,
        params={},
        data=spec.stage1_data,
        state=TrialState.FAILED,
        reason="its Trial resource was deleted by hand; the run is lost",
    )


def engine_state(spec: SearchSpec, search_status: Obj, resources: list[Obj]) -> Obj:
    """Join the HyperSearch status and the Trial resources into engine state."""
    records: dict[int, Trial] = {}
    for r in resources:
        raw = (r.get("status") or {}).get("record")
        try:
            trial = Trial.from_dict({**dict.fromkeys(_NULLABLE), **raw}) if raw else fresh_trial(r)
        except (KeyError, TypeError, ValueError):
            continue
        records[trial.id] = trial
    count = max(records) + 1 if records else 0
    trials = [records.get(i) or missing_trial(spec, i) for i in range(count)]
    engine = search_status.get("engine") or {}
    return {
        "version": STATE_VERSION,
        "phase": engine.get("phase", "Running"),
        "stage": engine.get("stage", 1),
        "reason": engine.get("reason", ""),
        "promoted": engine.get("promoted", []),
        "winner": engine.get("winner"),
        **({"history": engine["history"]} if isinstance(engine.get("history"), dict) else {}),
        "trials": [t.to_dict() for t in trials],
    }


def engine_block(search: Search) -> Obj:
    """The search-level part of the engine state (:meth:`Search.to_state` less its trials),
    kept in the HyperSearch status. Built from the search itself: ``to_state`` serialises every
    trial's windows, ~1 s a round at 1,000 trials x 365 windows, only to keep five keys."""
    return {
        "phase": search.phase,
        "stage": search.stage,
        "reason": search.reason,
        "promoted": list(search.promoted),
        "winner": search.winner,
        **({"history": dict(search.history_used)} if search.history_used is not None else {}),
    }


def restore(spec: SearchSpec, search_status: Obj, resources: list[Obj]) -> Search:
    return Search.from_state(spec, engine_state(spec, search_status, resources))


__all__ = [
    "decision_predicted",
    "engine_block",
    "engine_state",
    "pod_ledgers",
    "restore",
    "spec_digest",
    "sumcount_states",
    "trajectory",
    "trial_status",
]
