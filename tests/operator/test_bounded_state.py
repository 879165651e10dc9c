"""Bounded state (issue 13): a Trial status within its budget that restores to the same
decisions, paginated lists, and the ``sumcount`` state surviving a restart. No cluster."""

from __future__ import annotations

import asyncio
import functools
import json
import random
from typing import Any

from hypersearch.engine import Search, StartTrial, TrialReport, WindowStat
from hypersearch.kube.api import Kube
from hypersearch.kube.resources import trial_resource
from hypersearch.kube.state import engine_block, restore, trial_status
from hypersearch.spec import parse
from kubernetes.client.exceptions import ApiException

from tests.operator.conftest import tiny_search
from tests.operator.test_resources import search_object

WINDOWS, STRATA, TRIALS = 365, 32, 8
BUDGET = 64 * 1024


def big_search_doc() -> dict[str, Any]:
    return tiny_search(
        "big",
        stream={"windows": WINDOWS},
        objective={"metric": "logloss", "goal": "minimize", "evaluationWindows": 7},
        trials=TRIALS + 4,
        parallelism=TRIALS,
        stage1={
            "data": {"rate": 0.5},
            "stopping": {"rule": "performance", "rungs": [150, 300], "eta": 2, "minCohort": 4,
                         "compareWindows": 7},
            "predictor": {"name": "stratified", "recentWindows": 7},
        },
    )  # fmt: skip


@functools.cache
def window(tid: int, w: int) -> WindowStat:
    """Trial ``tid``'s window ``w``: 32 strata whose mix and gaps drift (full float precision)."""
    rng = random.Random(tid * 100_003 + w)
    parts = {}
    for k in range(STRATA):
        gap = 0.002 * ((tid * (k + 3)) % 11) * (1 + w / WINDOWS)
        parts[f"country-{k:02d}"] = (
            0.3 + 0.01 * k + gap + 0.03 * rng.random(),
            float(rng.randint(40, 400) + 5 * k * w // WINDOWS),
        )
    n = sum(c for _, c in parts.values())
    return WindowStat(sum(v * c for v, c in parts.values()) / n, n, parts)


def report(tid: int, w: int) -> TrialReport:
    """What a trainer serving its last 64 windows answers once it completed window ``w``."""
    served = {v: window(tid, v) for v in range(max(0, w - 63), w + 1)}
    return TrialReport(position=w + 1.0, examples=1000.0 * (w + 1), windows=served)


def as_stored(search: Search, doc: dict[str, Any], starts: dict[int, StartTrial]) -> list[Any]:
    """The Trial resources as the API server hands them back (JSON, nulls dropped)."""
    out = []
    for t in search.trials:
        res = trial_resource(search_object(doc), starts[t.id], None)
        status = json.loads(json.dumps(trial_status(t)))
        status["record"] = {k: v for k, v in status["record"].items() if v is not None}
        res["status"] = status
        out.append(res)
    return out


def advance(search: Search, until: int, w0: int = 0) -> list[Any]:
    """Every running trial completes windows ``w0..until-1``, one round per window."""
    actions: list[Any] = []
    for w in range(w0, until):
        running = [t.id for t in search.trials if t.state.value == "Running"]
        actions += search.observe_all({tid: report(tid, w) for tid in running})
        actions += search.step()
    return actions


def test_trial_status_stays_within_budget_and_restores_the_same_decisions() -> None:
    doc = big_search_doc()
    spec = parse(doc)
    search = Search(spec)
    starts = {a.trial: a for a in search.step() if isinstance(a, StartTrial)}
    assert len(starts) == TRIALS
    before = advance(search, 200)
    assert any(type(a).__name__ == "StopTrial" for a in before)  # the first rung decided
    for a in before:
        if isinstance(a, StartTrial):
            starts[a.trial] = a
    stored = as_stored(search, doc, starts)
    sizes = [len(json.dumps(r["status"])) for r in stored]
    assert max(sizes) <= BUDGET, sizes
    assert max(len(search.trials[i].windows) for i in range(TRIALS)) == 200

    restored = restore(spec, {"engine": engine_block(search)}, stored)
    assert restored.to_state() == search.to_state()
    # Both continue on the same reports: the second rung, the final ranking and stage 2.
    original_actions = advance(search, WINDOWS, 200)
    restored_actions = advance(restored, WINDOWS, 200)
    assert restored_actions == original_actions
    assert any(type(a).__name__ == "StopTrial" for a in original_actions)
    assert restored.to_state() == search.to_state()
    assert [t.predicted for t in restored.trials] == [t.predicted for t in search.trials]
    # A trial with every window of the stream stays within the budget too.
    full = [len(json.dumps(r["status"])) for r in as_stored(search, doc, {**starts, **{
        a.trial: a for a in original_actions if isinstance(a, StartTrial)}})]  # fmt: skip
    assert max(full) <= BUDGET, full


def test_list_reads_every_page_with_limit_and_continue() -> None:
    calls: list[dict[str, Any]] = []
    objects = [{"metadata": {"name": f"t-{i}"}} for i in range(1234)]
    expired = {"once": True}

    async def fake_call(verb: str, fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        start = int(kwargs.get("_continue") or 0)
        if start == 1000 and expired.pop("once", False):
            raise ApiException(status=410, reason="Expired")
        stop = start + kwargs["limit"]
        token = str(stop) if stop < len(objects) else ""
        return {"items": objects[start:stop], "metadata": {"continue": token}}

    kube = Kube.__new__(Kube)
    kube._verb = lambda verb, api_version, kind: (lambda *a, **k: None, ("g", "v1"))  # type: ignore[method-assign]
    kube._call = fake_call  # type: ignore[method-assign]
    got = asyncio.run(kube.list("ns", "g/v1", "Trial", "app=x"))
    assert got == objects  # every object once, after starting again on the expired token
    assert all(c["limit"] == 500 and c["label_selector"] == "app=x" for c in calls)
    assert [c.get("_continue") for c in calls] == [None, "500", "1000", None, "500", "1000"]
