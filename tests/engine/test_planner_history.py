"""The planner's promotion step with ``spec.stage1.history``: ``none`` (the default) is exactly
the order promotion had without history, whatever history the executor hands over; ``residual``
fitted on earlier searches whose stage-1 runs flattered one model family corrects the ranking
before promotion picks topK, and the summary says which searches, the weight and why."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypersearch.engine.history import Search as HistorySearch
from hypersearch.engine.history import encode
from hypersearch.engine.planner import Search
from hypersearch.replay import Curve, replay
from hypersearch.spec.model import DataRange, ParamValue, SearchSpec

from tests.engine.synthetic import make_world, search_spec
from tests.engine.test_planner_promotion import old_rank_order

N, WINDOWS = 9, 40
WORLD = make_world(N, WINDOWS, seed=2)
# A reduced run flatters every "lr" configuration (it looks better than its "fm" twin); on full
# data it is worse: the reversal history can teach.
FLATTERED, PENALTY = 0.08, 0.05


def curves(params: dict[str, ParamValue], data: DataRange) -> Curve:
    metrics, examples = WORLD.curve(int(params["config"]), data)
    lr = params["model"] == "lr"
    shift = (-FLATTERED if data.rate < 1.0 else PENALTY) if lr else 0.0
    return Curve(metrics + shift, examples)


def spec(history: dict[str, Any] | None = None, **stage1: Any) -> SearchSpec:
    space = [
        {"name": "config", "type": "categorical", "values": [str(i) for i in range(N)]},
        {"name": "model", "type": "categorical", "values": ["fm", "lr"]},
    ]
    stage1 = {"data": {"rate": 0.2}, "stopping": {"rule": "none"}, **stage1}
    if history is not None:
        stage1["history"] = history
    return search_spec(
        N, WINDOWS, parameters=space, trials=2 * N, stage1=stage1, stage2={"topK": 3}
    )


def earlier(s: SearchSpec, seed: int, horizon: int) -> HistorySearch:
    """An earlier search of the same space: every configuration's stage-1 and full-data target,
    the stage-1 one flattering "lr" as this world's reduced runs do."""
    rng = np.random.default_rng(seed)
    params = [{"config": str(c), "model": m} for c in range(N) for m in ("fm", "lr")]
    base = rng.normal(0.5, 0.03, size=len(params))
    lr = np.array([p["model"] == "lr" for p in params], dtype=float)
    return HistorySearch(
        features=np.array([encode(p, s.parameters) for p in params]),
        stage1=base - FLATTERED * lr,
        full=base + PENALTY * lr,
        horizon=horizon,
    )


def history_of(s: SearchSpec) -> dict[str, HistorySearch]:
    return {f"week-{k}": earlier(s, seed=k, horizon=k) for k in range(3)}


def models(search: Search) -> list[str]:
    return [str(search.trials[i].params["model"]) for i in search.promoted]


def test_policy_none_keeps_todays_order_whatever_history_is_given() -> None:
    plain = replay(spec(), curves).search
    s = spec({"policy": "none"})
    search = replay(s, curves, search=Search(s, history_of(s))).search
    assert search.phase == "Succeeded"
    assert search.promoted == plain.promoted == old_rank_order(search)
    # The flattered family wins the plain ranking: what history is for.
    assert models(search) == ["lr", "lr", "lr"]
    assert "history" not in search.summary()


def test_residual_corrects_the_flattered_family_and_says_so() -> None:
    s = spec({"policy": "residual", "searches": [{"name": f"week-{k}"} for k in range(3)]})
    search = replay(s, curves, search=Search(s, history_of(s))).search
    assert search.phase == "Succeeded"
    assert models(search) == ["fm", "fm", "fm"], search.promoted
    used = search.summary()["history"]
    assert used["policy"] == "residual"
    assert used["searches"] == ["week-0", "week-1", "week-2"]
    assert used["weight"] > 0.5 and "correction applied" in used["reason"], used
    # Kept in the engine state: a restored search reports the same.
    state = search.to_state()
    assert Search.from_state(s, state).summary()["history"] == used


def test_residual_with_too_little_history_keeps_the_plain_order() -> None:
    s = spec({"policy": "residual", "searches": [{"name": "week-0"}]})
    one = earlier(s, seed=0, horizon=0)
    thin = HistorySearch(one.features[:3], one.stage1[:3], one.full[:3])
    search = replay(s, curves, search=Search(s, {"week-0": thin})).search
    assert search.promoted == old_rank_order(search)
    used = search.summary()["history"]
    assert used["weight"] == 0.0 and "too little history" in used["reason"], used


def test_family_promotion_takes_the_history_corrected_order() -> None:
    """``family`` moves the best of each family to the front of the corrected order: with
    history the best "fm" configuration leads (the plain order put "lr" first)."""
    family = {"name": "family", "familyParameter": "model"}
    plain = replay(spec(promotion=family), curves).search
    assert models(plain)[:2] == ["lr", "fm"], plain.promoted
    s = spec(
        {"policy": "residual", "searches": [{"name": f"week-{k}"} for k in range(3)]},
        promotion=family,
    )
    search = replay(s, curves, search=Search(s, history_of(s))).search
    assert models(search) == ["fm", "lr", "fm"], search.promoted
    assert search.summary()["history"]["weight"] > 0.5
