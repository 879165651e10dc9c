"""The machine-readable results of a finished (or interrupted) search, from the engine's trials.

Built from plain data only, so the same document comes from the local runner's state or from
a cluster HyperSearch's status and Trial objects (:mod:`hypersearch.report.cluster`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple
from typing import Any

from hypersearch.engine import Search
from hypersearch.report.earlier import parameters_of
from hypersearch.report.files import finite_document

RESULTS_VERSION = 1


def build_results(
    search: Search,
    meta: dict[str, dict[str, Any]],
    events: Iterable[Any],
    elapsed: float,
    manifest: str = "",
    started_at: str | None = None,
) -> dict[str, Any]:
    """Every trial with parameters, trajectory, stop reason, prediction, compute; stage 2; cost
    (compute first, examples beside it). Numbers are finite: any that is not is null, and its
    path is listed in ``nonFinite`` with the reason. ``started_at``: when the search started
    (ISO 8601, UTC), which orders it among earlier searches named as history.

    The objective, the parameter space and the stage-1/stage-2 data are recorded, and each
    trial's observed target, so that a later search can name this one in
    ``spec.stage1.history`` (:mod:`hypersearch.report.earlier`)."""
    spec = search.spec
    trials = []
    for t in search.trials:
        info = meta.get(t.name, {})
        trials.append(
            {
                "id": t.id,
                "name": t.name,
                "stage": t.stage,
                "params": dict(t.params),
                "data": t.data.to_dict(),
                "state": t.state.value,
                "reason": t.reason,
                "position": t.position,
                "examples": t.examples,
                "cpuSeconds": t.cpu_seconds,
                "gpuSeconds": t.gpu_seconds,
                "computeSource": t.compute_source,
                "trajectory": [[w, s.value] for w, s in sorted(t.windows.items())],
                "stopPosition": info.get("stopPosition"),
                "observed": search.observed(t) if t.stage == 1 else None,
                "predicted": t.predicted,
                "predictedStd": t.predicted_std,
                "source": t.source,
                "final": t.final,
                "exitCode": info.get("exitCode"),
                "startedAt": info.get("startedAt"),
                "endedAt": info.get("endedAt"),
                "log": info.get("log"),
                "command": info.get("command"),
            }
        )  # fmt: skip
    by_id = {t.id: t for t in search.trials}
    stage2 = [
        {
            "name": t.name,
            "source": by_id[t.source].name if t.source is not None else None,
            "params": dict(t.params),
            "state": t.state.value,
            "predicted": by_id[t.source].predicted if t.source is not None else None,
            "final": t.final,
            "examples": t.examples,
            "cpuSeconds": t.cpu_seconds,
            "gpuSeconds": t.gpu_seconds,
            "computeSource": t.compute_source,
        }
        for t in search.trials
        if t.stage == 2
    ]
    document = {
        "version": RESULTS_VERSION,
        "search": spec.name,
        "manifest": manifest,
        "phase": search.phase,
        "reason": search.reason,
        "metric": spec.metric,
        "goal": spec.goal,
        "windows": spec.windows,
        "windowName": spec.window_name,
        "evaluationWindows": spec.evaluation_windows,
        "targetWindows": [spec.target_windows.start, spec.target_windows.stop],
        "parameters": parameters_of(spec.parameters),
        "stage1Data": spec.stage1_data.to_dict(),
        "stage2Data": spec.stage2_data.to_dict(),
        "startedAt": started_at,
        "elapsedSeconds": round(elapsed, 2),
        "winner": search.trials[search.winner].name if search.winner is not None else None,
        "promoted": [search.trials[i].name for i in search.promoted],
        "summary": search.summary(),
        "cost": search.cost().to_dict(),
        "trials": trials,
        "stage2": stage2,
        "events": [list(astuple(e)) for e in events],
    }
    return finite_document(document)
