"""Finite numbers only: counters near the floating-point limit never make the status or
``results.json`` invalid JSON; what could not be represented is null, with the reason."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hypersearch.engine import Search, StartTrial, TrialReport, WindowStat
from hypersearch.report import render_report, write_results
from hypersearch.report.files import finite_document, finite_json
from hypersearch.report.results import build_results

from tests.engine.synthetic import search_spec

T = 12
HUGE = 1e308  # finite, so every single report is sound; two of them add up to inf


def strict_loads(text: str) -> Any:
    """JSON as the API server and other languages read it: no Infinity, no NaN."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def huge_search(cpu: float = HUGE, examples: float = HUGE) -> Search:
    """4 stage-1 trials, each reporting ``cpu`` CPU-seconds and ``examples`` examples."""
    stage1 = {"data": {"rate": 0.25}, "stopping": {"rule": "none"}}
    search = Search(search_spec(4, T, stage1=stage1, stage2={"topK": 1}, parallelism=4))
    for a in search.step():
        assert isinstance(a, StartTrial)
        windows = {w: WindowStat(0.5 + 0.1 * a.trial + 0.01 * w, 10) for w in range(T)}
        assert not search.observe(a.trial, TrialReport(T, examples, windows, True, cpu, 0.0))
        search.finished(a.trial, True)
    return search


def test_the_cost_of_counters_beyond_the_float_range_is_null_with_a_reason() -> None:
    search = huge_search()
    cost = search.cost()
    assert math.isinf(cost.total_cpu)  # what used to reach the status as Infinity
    d = cost.to_dict()
    strict_loads(json.dumps(d))
    assert d["totalCpuSeconds"] is None and d["stage1Examples"] is None
    assert d["reduction"] is None and d["examplesReduction"] is None
    assert "floating-point range" in str(d["computeNote"])
    bad = d["nonFinite"]
    assert isinstance(bad, dict) and "floating-point range" in bad["reason"]
    assert {"stage1CpuSeconds", "totalCpuSeconds", "totalExamples"} <= set(bad["fields"])
    # The summary the operator writes to the HyperSearch status is strict JSON too.
    strict_loads(json.dumps(search.summary()))


def test_a_finite_cost_has_no_non_finite_entry() -> None:
    d = huge_search(cpu=3.0, examples=1000.0).cost().to_dict()
    assert "nonFinite" not in d and d["totalCpuSeconds"] == 12.0


def test_results_json_is_strict_json_and_the_report_renders(tmp_path: Path) -> None:
    search = huge_search()
    search.trials[1].final = math.inf  # e.g. a mean of values near the limit
    search.trials[2].predicted_std = math.nan
    results = build_results(search, {}, [], 1.0)
    assert results["trials"][1]["final"] is None
    assert results["nonFinite"]["fields"] == ["trials[1].final", "trials[2].predictedStd"]
    assert "not a finite number" in results["nonFinite"]["reason"]
    results["cluster"] = {"heldSeconds": math.inf}  # added after build_results (cluster report)
    write_results(tmp_path, results)
    written = strict_loads((tmp_path / "results.json").read_text())
    assert written["cluster"]["heldSeconds"] is None
    assert written["nonFinite"]["fields"][-1] == "cluster.heldSeconds"
    assert written["cost"]["totalCpuSeconds"] is None
    assert render_report(tmp_path).is_file()


def test_finite_json_names_every_replaced_number() -> None:
    data = {"a": [1.0, math.inf, {"b": -math.inf}], "c": math.nan, "d": 2, "e": "inf"}
    clean, bad = finite_json(data)
    assert clean == {"a": [1.0, None, {"b": None}], "c": None, "d": 2, "e": "inf"}
    assert bad == ["a[1]", "a[2].b", "c"]
    assert finite_document({"x": 1.5}) == {"x": 1.5}
