"""An earlier search's results document (as ``build_results`` writes results.json, here of a
replayed search) turned into history rows, and every reason it cannot be used named: another
objective, another parameter space, other stage-1 data, not finished, no full-data target, an
older results.json."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
from hypersearch.engine.history import encode
from hypersearch.replay import replay
from hypersearch.report.earlier import HistoryError, earlier_search, history_rows, ordered
from hypersearch.report.results import build_results
from hypersearch.spec.model import HistoryEntry, SearchSpec

from tests.engine.synthetic import make_world, search_spec

N, WINDOWS = 8, 30
WORLD = make_world(N, WINDOWS, seed=4)


def spec(**changes: Any) -> SearchSpec:
    space = [
        {"name": "config", "type": "categorical", "values": [str(i) for i in range(N)]},
        {"name": "lr", "type": "double", "min": 0.001, "max": 0.1, "scale": "log"},
    ]
    stage1 = changes.pop("stage1", {"data": {"rate": 0.25}, "stopping": {"rule": "none"}})
    return search_spec(
        N, WINDOWS, parameters=changes.pop("parameters", space), stage1=stage1,
        stage2={"topK": 3}, **changes,
    )  # fmt: skip


def results_of(s: SearchSpec) -> dict[str, Any]:
    def curves(params: dict[str, Any], data: Any) -> Any:
        return WORLD.curves({"config": params["config"]}, data)

    search = replay(s, curves).search
    return build_results(search, {}, [], 1.0, started_at="2026-11-30T00:00:00Z")


RESULTS = results_of(spec())


def test_rows_hold_every_stage1_configuration_and_the_stage2_targets() -> None:
    s = spec()
    rows = history_rows(RESULTS, s)
    stage1 = [t for t in RESULTS["trials"] if t["stage"] == 1]
    assert rows.size == len(stage1) == N
    for i, t in enumerate(stage1):
        assert np.allclose(rows.features[i], encode(t["params"], s.parameters))
        assert t["observed"] is not None  # every run spanned the evaluation window
        assert rows.stage1[i] == pytest.approx(t["observed"])
    full = {t["source"]: t["final"] for t in RESULTS["stage2"]}
    names = [t["name"] for t in stage1]
    for i, name in enumerate(names):
        if name in full:
            assert rows.full[i] == pytest.approx(full[name])
        else:
            assert math.isnan(rows.full[i])
    assert int(np.isfinite(rows.full).sum()) == 3
    assert RESULTS["parameters"][1]["min"] == 0.001 and RESULTS["stage1Data"]["rate"] == 0.25


def test_maximised_metric_rows_are_sign_adjusted() -> None:
    s = spec(objective={"metric": "auc", "goal": "maximize"})
    results = results_of(s)
    rows = history_rows(results, s)
    stage1 = [t for t in results["trials"] if t["stage"] == 1]
    assert rows.stage1[0] == pytest.approx(-stage1[0]["observed"])


def mismatch(results: dict[str, Any], s: SearchSpec) -> str:
    entry = HistoryEntry(results="runs/x/results.json")
    with pytest.raises(HistoryError) as e:
        earlier_search(results, s, 0, entry)
    message = str(e.value)
    assert message.startswith("spec.stage1.history.searches[0].results (runs/x/results.json): ")
    return message


def test_another_parameter_space_is_named() -> None:
    wider = spec(
        parameters=[
            {"name": "config", "type": "categorical", "values": [str(i) for i in range(N)]},
            {"name": "lr", "type": "double", "min": 0.003, "max": 0.3, "scale": "log"},
        ]
    )
    assert "parameter 'lr' has bounds [0.001, 0.1], this search [0.003, 0.3]" in mismatch(
        RESULTS, wider
    )
    other = spec(parameters=[{"name": "config", "type": "categorical", "values": ["0", "1"]}])
    message = mismatch(RESULTS, other)
    assert "parameter 'lr' is not in this search's space" in message
    assert "parameter 'config' has values [0, 1, 2, 3, 4, 5, 6, 7], this search [0, 1]" in message


def test_another_objective_or_stage1_data_is_named() -> None:
    assert "objective metric 'logloss', this search 'auc'" in mismatch(
        RESULTS, spec(objective={"metric": "auc"})
    )
    assert "objective goal 'minimize', this search 'maximize'" in mismatch(
        RESULTS, spec(objective={"goal": "maximize"})
    )
    assert "evaluation windows: the last 7 of the stream, this search the last 3" in mismatch(
        RESULTS, spec(objective={"evaluationWindows": 3})
    )
    assert "stage-1 data rate 0.25, this search 0.1" in mismatch(
        RESULTS, spec(stage1={"data": {"rate": 0.1}, "stopping": {"rule": "none"}})
    )


def test_an_earlier_search_of_a_shorter_stream_is_history_unless_its_prefix_differs() -> None:
    """A weekly search of a growing log: last week's stream had fewer windows. The same
    evaluation-window length and a stage 1 to the end of each stream match; a prefix stage 1
    must stop at the same window."""
    s = spec()
    shorter = results_of(spec(stream={"windows": WINDOWS - 7, "windowName": "day"}))
    assert shorter["windows"] == WINDOWS - 7
    rows = history_rows(shorter, s)
    assert rows.known().sum() == 3
    prefix = {"data": {"rate": 0.25, "stop": 20}, "stopping": {"rule": "none"}}
    assert "stage-1 data stop 23 (the end), this search 20 of 30 windows" in mismatch(
        shorter, spec(stage1=prefix)
    )
    assert history_rows(results_of(spec(stage1=prefix)), spec(stage1=prefix)).size == N


def test_unfinished_without_full_targets_or_old_results_are_refused() -> None:
    running = {**RESULTS, "phase": "Running"}
    assert "not finished (phase Running)" in mismatch(running, spec())
    no_full = copy.deepcopy(RESULTS)
    no_full["trials"] = [t for t in no_full["trials"] if t["stage"] == 1]
    assert "no configuration with both a stage-1 and a full-data target" in mismatch(
        no_full, spec()
    )
    old = {k: v for k, v in RESULTS.items() if k not in ("parameters", "stage1Data")}
    message = mismatch(old, spec())
    assert "records no parameter space (written by an older hypersearch)" in message


def test_ordered_by_start_time_then_entry_order() -> None:
    s = spec()
    later = {**RESULTS, "startedAt": "2026-12-07T00:00:00Z"}
    found = [
        earlier_search(later, s, 0, HistoryEntry(name="w49")),
        earlier_search(RESULTS, s, 1, HistoryEntry(name="w48")),
    ]
    by_label = ordered(found)
    assert list(by_label) == ["w48", "w49"]
    assert [r.horizon for r in by_label.values()] == [0, 1]
