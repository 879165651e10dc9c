"""``spec.stage1.history``: its defaults, the typed view, and every bad shape refused naming the
field, by the CRD's schema or by the semantic rules; ``residual`` is warned about with the
lead-3 benchmark's figures. (Reading and checking the earlier searches themselves:
tests/report/test_earlier.py and tests/local/test_history.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from hypersearch.spec import check, parse, spec_warnings
from hypersearch.spec.model import HistoryEntry, HistorySpec

from tests.engine.test_spec import doc

AT = "spec.stage1.history"


def history_doc(history: dict[str, Any]) -> dict[str, Any]:
    return doc(stage1={"history": history})


def errors_of(document: Any) -> dict[str, str]:
    _, errors = check(document)
    return {e.path: e.message for e in errors}


def test_default_is_no_history() -> None:
    spec = parse(doc())
    assert spec.history == HistorySpec("none", ())
    defaulted, _ = check(doc())
    assert defaulted["spec"]["stage1"]["history"] == {"policy": "none"}


def test_searches_reach_the_typed_spec_in_order() -> None:
    spec = parse(
        history_doc(
            {"policy": "residual", "searches": [{"name": "ctr-w48"}, {"results": "runs/w49/"}]}
        )
    )
    assert spec.history.policy == "residual"
    assert spec.history.searches == (
        HistoryEntry(name="ctr-w48"),
        HistoryEntry(results="runs/w49/"),
    )
    assert [s.label for s in spec.history.searches] == ["ctr-w48", "runs/w49/"]
    assert [s.field for s in spec.history.searches] == ["name", "results"]


# Refused by the schema (and so by the API server: tests/operator/test_history.py), here.
HISTORY_SCHEMA_VIOLATIONS: list[tuple[dict[str, Any], str]] = [
    ({"policy": "learned"}, f"{AT}.policy"),
    ({"policy": "residual", "searches": [{"name": f"s{i}"} for i in range(27)]}, f"{AT}.searches"),
    ({"policy": "residual", "searches": [{"name": "Not_A_Name"}]}, f"{AT}.searches[0].name"),
    ({"policy": "residual", "searches": [{"results": ""}]}, f"{AT}.searches[0].results"),
    ({"policy": "residual", "searches": [{"name": "a", "namespace": "b"}]},
     f"{AT}.searches[0].namespace"),
    ({"policy": "residual", "search": [{"name": "a"}]}, f"{AT}.search"),
]  # fmt: skip
# Refused by a CEL rule of the CRD (the API server) and the semantic rules (locally).
HISTORY_CEL_VIOLATIONS: list[tuple[dict[str, Any], str]] = [
    ({"policy": "residual", "searches": [{"name": "a"}, {"name": "b", "results": "x"}]},
     f"{AT}.searches[1]"),
    ({"policy": "residual", "searches": [{"name": "a"}, {}]}, f"{AT}.searches[1]"),
]  # fmt: skip


@pytest.mark.parametrize(("history", "path"), HISTORY_SCHEMA_VIOLATIONS)
def test_schema_refuses_a_bad_shape_naming_the_field(history: dict[str, Any], path: str) -> None:
    errors = errors_of(history_doc(history))
    assert path in errors, errors


@pytest.mark.parametrize(
    ("history", "path", "says"),
    [
        ({"searches": [{"name": "a"}]}, f"{AT}.searches", "policy none uses no earlier search"),
        ({"policy": "residual"}, f"{AT}.searches", "needs at least one earlier search"),
        ({"policy": "residual", "searches": []}, f"{AT}.searches", "needs at least one"),
        ({"policy": "residual", "searches": [{"name": "a"}, {"name": "a", "results": "x"}]},
         f"{AT}.searches[1]", "exactly one of name or results"),
        ({"policy": "residual", "searches": [{"name": "a"}, {}]}, f"{AT}.searches[1]",
         "exactly one of name or results"),
        ({"policy": "residual", "searches": [{"results": "r"}, {"results": "r"}]},
         f"{AT}.searches[1].results", "duplicate of spec.stage1.history.searches[0]"),
    ],
    ids=["none-with-searches", "residual-without", "residual-empty", "both", "neither",
         "duplicate"],
)  # fmt: skip
def test_semantic_rules_name_the_field(history: dict[str, Any], path: str, says: str) -> None:
    errors = errors_of(history_doc(history))
    assert set(errors) == {path}, errors
    assert says in errors[path]


def test_residual_is_warned_about_with_the_lead_3_figures() -> None:
    spec = parse(history_doc({"policy": "residual", "searches": [{"name": "a"}]}))
    (warning,) = [w for w in spec_warnings(spec) if w.path == f"{AT}.policy"]
    assert "+4.97, +1.51, +0.64 points" in warning.message and "lead 3" in warning.message
    assert "top 3" in warning.message
    assert not [w for w in spec_warnings(parse(doc())) if w.path.startswith(AT)]


@pytest.mark.parametrize(
    ("stopping", "path"),
    [
        ({"rule": "none", "rungs": [4, 8]}, "spec.stage1.stopping.rungs"),
        ({"rule": "none", "minPosition": 2}, "spec.stage1.stopping.minPosition"),
    ],
)
def test_rung_settings_with_rule_none_are_refused_naming_the_field(
    stopping: dict[str, Any], path: str
) -> None:
    errors = errors_of(doc(stage1={"stopping": stopping}))
    assert set(errors) == {path}, errors
    assert "rule none stops no trial" in errors[path]
    # The same settings with a rule that has rungs are fine.
    assert errors_of(doc(stage1={"stopping": {**stopping, "rule": "asha"}})) == {}
