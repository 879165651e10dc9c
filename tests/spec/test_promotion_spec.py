"""``spec.stage1.promotion``: its defaults, its knobs, and every bad name or knob refused naming
the field, by the CRD's schema (the same documents go to a real API server in
tests/operator/test_spec_advice.py) or by the semantic rules, and by ``hypersearch validate``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypersearch.spec import check, parse
from hypersearch.spec.model import PromotionSpec

from tests.engine.test_spec import doc

FAMILY_SPACE = [
    {"name": "lr", "type": "double", "min": 1e-4, "max": 1e-1, "scale": "log"},
    {"name": "model", "type": "categorical", "values": ["lr", "fm", "dlrm"]},
    {"name": "arch", "type": "categorical", "values": ["a", "b"]},
    {"name": "depth", "type": "int", "min": 1, "max": 4},
]


def promotion_doc(promotion: dict[str, Any], parameters: list[Any] | None = None) -> Any:
    return doc(stage1={"promotion": promotion}, parameters=parameters or FAMILY_SPACE)


def _promotion(**promotion: Any) -> dict[str, Any]:
    return {"stage1": {"promotion": promotion}}


# Refused by the schema (and so by the API server), at this field.
AT = "spec.stage1.promotion"
PROMOTION_SCHEMA_VIOLATIONS: list[tuple[dict[str, Any], str]] = [
    (_promotion(name="extrapolate"), f"{AT}.name"),
    (_promotion(name="best"), f"{AT}.name"),
    (_promotion(name="family", perFamily=0), f"{AT}.perFamily"),
    (_promotion(name="family", perFamily=101), f"{AT}.perFamily"),
    (_promotion(name="family", perFamily=1.5), f"{AT}.perFamily"),
    (_promotion(name="family", familyParameter=""), f"{AT}.familyParameter"),
    (_promotion(name="family", per_family=2), f"{AT}.per_family"),
]


def errors_of(document: Any) -> dict[str, str]:
    _, errors = check(document)
    return {e.path: e.message for e in errors}


def test_default_is_rank_with_the_engine_policy_defaults() -> None:
    spec = parse(doc())
    assert spec.promotion == PromotionSpec("rank", "model", 1)
    defaulted, _ = check(doc())
    assert defaulted["spec"]["stage1"]["promotion"] == {"name": "rank"}


def test_family_knobs_reach_the_typed_spec() -> None:
    spec = parse(promotion_doc({"name": "family"}))
    assert spec.promotion == PromotionSpec("family", "model", 1)
    assert spec.promotion.settings() == {"per_family": 1}
    spec = parse(promotion_doc({"name": "family", "familyParameter": "arch", "perFamily": 2}))
    assert spec.promotion == PromotionSpec("family", "arch", 2)
    assert spec.promotion.describe() == "family (arch, 2 per family)"


@pytest.mark.parametrize(("change", "path"), PROMOTION_SCHEMA_VIOLATIONS)
def test_schema_refuses_a_bad_name_or_knob_naming_the_field(
    change: dict[str, Any], path: str
) -> None:
    document = doc(parameters=FAMILY_SPACE, **change)
    assert path in errors_of(document), errors_of(document)


@pytest.mark.parametrize(
    ("promotion", "parameters", "path", "says"),
    [
        ({"familyParameter": "model"}, None, "familyParameter", "only the family promotion"),
        ({"name": "rank", "perFamily": 2}, None, "perFamily", "only the family promotion"),
        ({"name": "family", "familyParameter": "nope"}, None, "familyParameter",
         "'nope' is not a parameter of spec.parameters"),
        ({"name": "family", "familyParameter": "lr"}, None, "familyParameter",
         "'lr' is not categorical (double)"),
        ({"name": "family", "familyParameter": "depth"}, None, "familyParameter",
         "'depth' is not categorical (int)"),
        ({"name": "family"}, [FAMILY_SPACE[0]], "familyParameter",
         "'model' (the default) is not a parameter"),
    ],
    ids=["knob-with-default-rank", "knob-with-rank", "unknown", "double", "int", "no-model"],
)  # fmt: skip
def test_semantic_rules_name_the_field(
    promotion: dict[str, Any], parameters: list[Any] | None, path: str, says: str
) -> None:
    errors = errors_of(promotion_doc(promotion, parameters))
    assert set(errors) == {f"spec.stage1.promotion.{path}"}, errors
    assert says in errors[f"spec.stage1.promotion.{path}"]


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hypersearch", "validate", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_validate_refuses_a_bad_promotion_and_accepts_a_family_one(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(promotion_doc({"name": "extrapolate"})))
    result = validate(bad)
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = [x for x in result.stderr.splitlines() if "spec.stage1.promotion.name" in x]
    assert "extrapolate" in line or "rank" in line, line
    missing = tmp_path / "missing.yaml"
    missing.write_text(yaml.safe_dump(promotion_doc({"name": "family"}, [FAMILY_SPACE[0]])))
    result = validate(missing)
    assert result.returncode == 2 and "spec.stage1.promotion.familyParameter" in result.stderr
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(promotion_doc({"name": "family", "familyParameter": "arch"})))
    result = validate(good)
    assert result.returncode == 0, result.stderr
