"""Warnings for settings docs/benchmarks.md measured to search poorly: each names its field,
quotes its figure, fires inside the measured range and not outside it, and never makes a spec
invalid (``hypersearch validate`` exits 0, printing them)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypersearch.spec import check, parse, spec_warnings

from tests.engine.test_spec import MINIMAL

T = 181  # flights-3m's days: the benchmark's prefixes are of these


def spec_doc(**stage1: Any) -> dict[str, Any]:
    """MINIMAL over ``T`` windows, with a model parameter, and ``stage1`` (and ``topK``)."""
    d = copy.deepcopy(MINIMAL)
    d["spec"]["stream"]["windows"] = T
    d["spec"]["parameters"].append({"name": "model", "type": "categorical", "values": ["lr", "fm"]})
    top_k = stage1.pop("topK", None)
    if top_k is not None:
        d["spec"]["stage2"] = {"topK": top_k}
    d["spec"]["stage1"] = stage1
    return d


def warned(document: dict[str, Any]) -> dict[str, str]:
    _, errors = check(document)
    assert errors == [], errors  # a warning never makes a spec invalid
    return {w.path: w.message for w in spec_warnings(parse(document))}


# (stage1 settings, the field warned about, a figure of docs/benchmarks.md it must quote)
WARNED: list[tuple[dict[str, Any], str, str]] = [
    ({"data": {"stop": 90}}, "spec.stage1.data.stop", "0.000% regret@3"),
    ({"data": {"stop": 22}, "stopping": {"rule": "none"}}, "spec.stage1.data.stop", "2.45%"),
    ({"data": {"rate": 0.1}}, "spec.stage1.stopping.rule", "4.38% regret@3"),
    ({"data": {"rate": 0.01}, "stopping": {"rule": "asha"}}, "spec.stage1.stopping.rule",
     "asha at 1%: 11.92%"),
    ({"data": {"rate": 0.1}, "stopping": {"rule": "none"}, "topK": 1}, "spec.stage2.topK",
     "9.35%, 4.16% and 3.60%"),
    ({"data": {"rate": 0.03}, "stopping": {"rule": "none"}}, "spec.stage1.data.rate", "3.16%"),
    ({"data": {"rate": 0.1, "evalRate": 0.01}, "stopping": {"rule": "none"}},
     "spec.stage1.data.evalRate", "3.08% regret@3"),
    ({"predictor": {"name": "trajectory"}}, "spec.stage1.predictor.name", "9.68% vs 2.41%"),
    ({"data": {"rate": 0.1}, "stopping": {"rule": "none"}, "transfer": {"name": "rate-aware"}},
     "spec.stage1.transfer.batchExponent", "batch 10 and 102"),
    ({"data": {"rate": 0.5}, "transfer": {"name": "rate-aware", "batchExponent": 0,
                                          "lrExponent": -0.5}},
     "spec.stage1.transfer.lrExponent", "12.85%"),
    ({"data": {"rate": 0.3}, "promotion": {"name": "family"}}, "spec.stage1.promotion.name",
     "0.199% and 0.684%"),
]  # fmt: skip

# Outside every measured range, or the defaults: no warning at all.
QUIET: list[dict[str, Any]] = [
    {},  # the defaults: full data, performance, constant, rank
    {"data": {"stop": 91}},  # a prefix longer than the longest one measured (90 of 181)
    {"data": {"start": 30, "stop": 60}},  # not a prefix
    {"data": {"rate": 0.2}},  # stopping on a sample above the rates measured (1-10%)
    {"data": {"rate": 0.04}, "stopping": {"rule": "none"}},  # between 3% and 10%: not measured
    {"data": {"rate": 0.04}, "stopping": {"rule": "median"}},  # median on a sample: not measured
    {"data": {"rate": 0.1, "evalRate": 0.03}, "stopping": {"rule": "none"}},
    {"data": {"evalRate": 0.01}},  # full data: the stopping rules were not worse at 0.01
    {"predictor": {"name": "stratified"}},
    {"transfer": {"name": "rate-aware"}},  # at rate 1 it changes nothing
    {"data": {"rate": 0.5}, "transfer": {"name": "rate-aware", "batchExponent": 0}},
    {"data": {"rate": 0.05}, "stopping": {"rule": "none"}, "promotion": {"name": "family"}},
    {"topK": 1},  # top 1 of full-data runs
]


@pytest.mark.parametrize(("stage1", "path", "figure"), WARNED)
def test_a_measured_poor_setting_is_warned_about_naming_the_field_and_the_figure(
    stage1: dict[str, Any], path: str, figure: str
) -> None:
    warnings = warned(spec_doc(**copy.deepcopy(stage1)))
    assert path in warnings, warnings
    assert figure in warnings[path], warnings[path]
    assert "docs/benchmarks.md" in warnings[path]


@pytest.mark.parametrize("stage1", QUIET, ids=[str(q) for q in QUIET])
def test_no_warning_outside_what_the_benchmark_measured(stage1: dict[str, Any]) -> None:
    assert warned(spec_doc(**copy.deepcopy(stage1))) == {}


def test_the_prefix_bound_is_the_measured_fraction_of_the_stream() -> None:
    """t = 90 of 181 days is the longest prefix measured: the same fraction of another stream."""
    d = spec_doc(data={"stop": 49})
    d["spec"]["stream"]["windows"] = 100
    assert "spec.stage1.data.stop" in warned(d)
    d["spec"]["stage1"]["data"]["stop"] = 50  # 50/100 > 90/181
    assert warned(d) == {}


def test_several_warnings_at_once_sorted_by_field() -> None:
    warnings = spec_warnings(
        parse(spec_doc(data={"rate": 0.01, "stop": 60}, predictor={"name": "trajectory"}, topK=1))
    )
    assert [w.path for w in warnings] == [
        "spec.stage1.data.rate",
        "spec.stage1.data.stop",
        "spec.stage1.predictor.name",
        "spec.stage1.stopping.rule",
        "spec.stage2.topK",
    ]


def test_validate_prints_warnings_naming_the_field_and_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "poor.yaml"
    path.write_text(yaml.safe_dump(spec_doc(data={"rate": 0.1}, predictor={"name": "trajectory"})))
    result = subprocess.run(
        [sys.executable, "-m", "hypersearch", "validate", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid, with 2 warning(s)" in result.stdout, result.stdout
    lines = [x.strip() for x in result.stderr.splitlines() if x.strip()]
    assert [x.split(":")[1].strip() for x in lines] == [
        "spec.stage1.predictor.name",
        "spec.stage1.stopping.rule",
    ], result.stderr
    assert all(x.startswith("warning: spec.") for x in lines), lines
    # A valid spec without warnings says only that.
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump(spec_doc()))
    result = subprocess.run(
        [sys.executable, "-m", "hypersearch", "validate", str(plain)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.strip().endswith("is valid"), result.stdout
