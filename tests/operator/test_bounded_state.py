"""Bounded state (issue 13): a Trial status within its budget that restores to the same
decisions, paginated lists, and the ``sumcount`` state surviving a restart. No cluster."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import random
from typing import Any

import pytest
from hypersearch.engine import Search, StartTrial, TrialReport, WindowStat
from hypersearch.kube.api import Kube
from hypersearch.kube.resources import trial_resource
from hypersearch.kube.state import engine_block, restore, sumcount_states, trial_status
from hypersearch.monitor import Monitor
from hypersearch.scrape import parse_report
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


def _sumcount_text(position: float, loss: float, n: float) -> str:
    return (
        f"hypersearch_trainer_position {position}\n"
        f"hypersearch_trainer_train_examples_total {100 * position}\n"
        f'hypersearch_trainer_eval_loss_sum{{stratum="all"}} {loss}\n'
        f'hypersearch_trainer_eval_examples_total{{stratum="all"}} {n}\n'
    )


def test_a_resumed_sumcount_trial_has_no_hole() -> None:
    """The counter readings at the last boundary are persisted in the Trial status; a restarted
    operator continues from them, so the windows completed while it was away get a value."""
    doc = tiny_search("sc")
    spec = parse(doc)
    metrics = dataclasses.replace(
        spec.metrics, objective_type="sumcount", objective_name="hypersearch_trainer_eval_loss_sum"
    )
    search = Search(spec)
    start = search.step()[0]
    assert isinstance(start, StartTrial)
    monitor = Monitor(spec)
    watch = monitor.watch(0, "http://10.0.0.1:9100/metrics")
    # Window w scores 100 examples at a mean loss of 0.5 + w/10.
    loss = [0.0]
    for w in range(4):
        loss.append(loss[-1] + 100 * (0.5 + w / 10))
    for position, done in ((0.1, 0), (1.1, 1), (2.1, 2)):
        text = _sumcount_text(position, loss[done], 100 * done)
        search.observe_all({0: parse_report(text, metrics, "logloss", watch.sumcount)})
    assert sorted(search.trials[0].windows) == [0, 1]
    resource = trial_resource(search_object(doc), start, None)
    saved = monitor.sumcount(0, search.trials[0].windows.keys())
    resource["status"] = json.loads(json.dumps(trial_status(search.trials[0], None, saved)))

    # The operator restarts; meanwhile the trainer completed windows 2 and 3.
    restored = restore(spec, {"engine": engine_block(search)}, [resource])
    again = Monitor(spec)
    again.resumed = sumcount_states([resource])
    watch = again.watch(0, "http://10.0.0.1:9100/metrics")
    report = parse_report(_sumcount_text(4.1, loss[4], 400), metrics, "logloss", watch.sumcount)
    restored.observe_all({0: report})
    windows = restored.trials[0].windows
    assert sorted(windows) == [0, 1, 2, 3]  # no hole
    assert windows[2].value == windows[3].value == pytest.approx(0.75)  # the span's mean
    assert windows[0].value == pytest.approx(0.5) and windows[1].value == pytest.approx(0.6)
