"""The planner's promotion step follows ``spec.stage1.promotion``: ``rank`` (the default) is
the order promotion always had (rungs passed, then prediction, then id); ``family`` promotes the
best of each family first. Replayed on a synthetic world where one family is better throughout,
so plain rank sends only that family to stage 2."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypersearch.engine import TrialState
from hypersearch.engine.planner import Search
from hypersearch.replay import Curve, replay
from hypersearch.spec.model import DataRange, ParamValue

from tests.engine.synthetic import make_world, search_spec

N, WINDOWS = 9, 40
WORLD = make_world(N, WINDOWS, seed=2)
LR_PENALTY = 0.05  # every "lr" configuration is this much worse than its "fm" twin


def curves(params: dict[str, ParamValue], data: DataRange) -> Curve:
    metrics, examples = WORLD.curve(int(params["config"]), data)
    return Curve(metrics + (LR_PENALTY if params["model"] == "lr" else 0.0), examples)


def spec(promotion: dict[str, Any] | None = None, top_k: int = 3, **stage1: Any) -> Any:
    """Grid over config x model: trial 2i is config i as "fm", 2i + 1 the same as "lr"."""
    space = [
        {"name": "config", "type": "categorical", "values": [str(i) for i in range(N)]},
        {"name": "model", "type": "categorical", "values": ["fm", "lr"]},
    ]
    stage1 = {"data": {"rate": 0.2}, "stopping": {"rule": "none"}, **stage1}
    if promotion is not None:
        stage1["promotion"] = promotion
    return search_spec(
        N, WINDOWS, parameters=space, trials=2 * N, stage1=stage1, stage2={"topK": top_k}
    )


def promoted(search: Search) -> list[tuple[str, str]]:
    return [(str(search.trials[i].params["model"]), search.trials[i].name) for i in search.promoted]


def old_rank_order(search: Search) -> list[int]:
    """The promotion order the planner had before policies: rungs passed, prediction, id."""
    stage1 = [
        t
        for t in search.trials
        if t.stage == 1 and t.state is not TrialState.FAILED and t.predicted is not None
    ]
    ranked = sorted(
        stage1,
        key=lambda t: (
            -search._checkpoints_passed(t),
            search.spec.sign * (t.predicted or 0.0),
            t.id,
        ),
    )
    return [t.id for t in ranked[: search.spec.top_k]]


def test_rank_by_default_sends_only_the_better_family() -> None:
    s = spec()
    assert s.promotion.name == "rank"
    search = replay(s, curves).search
    assert search.phase == "Succeeded"
    assert [m for m, _ in promoted(search)] == ["fm", "fm", "fm"]
    assert search.promoted == old_rank_order(search)
    assert search.summary()["promotion"] == "rank"


def test_family_promotes_the_best_of_each_family_first() -> None:
    rank = replay(spec(), curves).search
    search = replay(spec({"name": "family", "familyParameter": "model"}), curves).search
    assert search.phase == "Succeeded"
    got = promoted(search)
    assert [m for m, _ in got] == ["fm", "lr", "fm"], got
    stage1 = [t for t in search.trials if t.stage == 1]
    best = {
        m: min((t for t in stage1 if t.params["model"] == m), key=lambda t: t.predicted or 0.0)
        for m in ("fm", "lr")
    }
    # The best of each family (by its own prediction), then the rest by rank.
    assert search.promoted[:2] == [best["fm"].id, best["lr"].id]
    assert search.promoted[2] == next(i for i in rank.promoted if i != best["fm"].id)
    # Stage 2 trained exactly those, and the summary names the policy.
    sources = [t.source for t in search.trials if t.stage == 2]
    assert sorted(s for s in sources if s is not None) == sorted(search.promoted)
    assert len(sources) == len(search.promoted)
    assert search.summary()["promotion"] == "family (model, 1 per family)"


def test_family_with_two_per_family_and_maximize() -> None:
    """perFamily 2 moves two of each family to the front; the goal's sign is respected."""
    search = replay(
        spec({"name": "family", "perFamily": 2}, top_k=4), curves
    ).search  # familyParameter defaults to "model"
    assert [m for m, _ in promoted(search)] == ["fm", "fm", "lr", "lr"]

    def flipped(params: dict[str, ParamValue], data: DataRange) -> Curve:
        c = curves(params, data)
        return Curve(-c.metrics, c.examples)

    doc_spec = spec({"name": "family"})
    maximize = type(doc_spec)(**{**doc_spec.__dict__, "goal": "maximize"})
    search = replay(maximize, flipped).search
    stage1 = [t for t in search.trials if t.stage == 1]
    best_lr = max((t for t in stage1 if t.params["model"] == "lr"), key=lambda t: t.predicted or 0)
    assert [m for m, _ in promoted(search)] == ["fm", "lr", "fm"]
    assert search.promoted[1] == best_lr.id


@pytest.mark.parametrize("name", ["rank", "family"])
def test_a_trial_stopped_at_a_rung_never_outranks_one_that_passed_it(name: str) -> None:
    """With stopping, every policy ranks the trials that passed more rungs first."""
    s = spec(
        {"name": name},
        stopping={"rule": "performance", "rungs": [10, 20], "eta": 2, "minCohort": 4},
    )
    search = replay(s, curves).search
    assert search.phase == "Succeeded"
    stage1 = {t.id: t for t in search.trials if t.stage == 1}
    assert any(t.state is TrialState.STOPPED for t in stage1.values())
    passed = [search._checkpoints_passed(stage1[i]) for i in search.promoted]
    most = max(search._checkpoints_passed(t) for t in stage1.values())
    if name == "rank":
        assert search.promoted == old_rank_order(search)
        assert passed == sorted(passed, reverse=True)
    # Families are not rung-blind: a family's first is its best among the most rungs passed.
    for i in search.promoted:
        family = stage1[i].params["model"]
        rivals = [t for t in stage1.values() if t.params["model"] == family]
        top = max(search._checkpoints_passed(t) for t in rivals)
        assert search._checkpoints_passed(stage1[i]) <= most
        if i == next(j for j in search.promoted if stage1[j].params["model"] == family):
            assert search._checkpoints_passed(stage1[i]) == top


def test_a_restored_search_keeps_the_family_promotion() -> None:
    s = spec({"name": "family"})
    partial = replay(s, curves, until=lambda x: x.stage == 2).search
    restored = Search.from_state(s, partial.to_state())
    done = replay(s, curves, search=restored).search
    whole = replay(s, curves).search
    assert done.promoted == whole.promoted and done.winner == whole.winner
    finals = [t.final for t in done.trials if t.stage == 2]
    assert finals and all(f is not None and np.isfinite(f) for f in finals)
