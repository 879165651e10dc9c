"""The cost in words and pictures: compute first, examples beside it, unknown said plainly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypersearch.engine import Search, StartTrial, TrialReport, WindowStat
from hypersearch.report import render_report
from hypersearch.report.costtext import cost_line
from hypersearch.report.results import build_results
from hypersearch.report.text import outcome_lines

from tests.engine.synthetic import search_spec

T = 12


def finished_search(full_cpu: float | None) -> Search:
    """4 stage-1 trials at 25% (3 CPU-s each), one full-data stage-2 run (``full_cpu``)."""
    stage1 = {"data": {"rate": 0.25}, "stopping": {"rule": "none"}}
    search = Search(search_spec(4, T, stage1=stage1, stage2={"topK": 1}, parallelism=4))
    for a in search.step():
        assert isinstance(a, StartTrial)
        windows = {w: WindowStat(0.5 + 0.1 * a.trial + 0.01 * w, 10) for w in range(T)}
        search.observe(a.trial, TrialReport(T, 250.0 * T, windows, True, 3.0, 0.0))
        search.finished(a.trial, True)
    (full,) = search.step()
    assert isinstance(full, StartTrial)
    if full_cpu is not None:
        windows = {w: WindowStat(0.5 + 0.01 * w, 10) for w in range(T)}
        search.observe(full.trial, TrialReport(T, 1000.0 * T, windows, True, full_cpu, 0.0))
        search.finished(full.trial, True)
    return search


def test_the_line_puts_compute_first_and_examples_beside_it() -> None:
    c = finished_search(full_cpu=20.0).cost().to_dict()
    assert cost_line(c) == (
        "compute: 32 CPU-s, 2.5x less than a full search (from 1 completed full-data run); "
        "examples 24,000, 2.0x less"
    )


def test_unknown_and_worse_than_a_full_search_are_said_plainly() -> None:
    running = finished_search(full_cpu=None).cost().to_dict()
    assert cost_line(running) == (
        "compute: 12 CPU-s, reduction not known until a full-data run reports; "
        "examples 12,000, 4.0x less"
    )
    # Start-up dominated runs: the reduced runs cost as much as full ones.
    costly = finished_search(full_cpu=3.0).cost().to_dict()
    assert cost_line(costly).startswith("compute: 15 CPU-s, 1.2x more than a full search")


def results_of(search: Search) -> dict[str, Any]:
    return build_results(search, {}, [], 12.0)


def test_results_report_and_outcome_carry_compute(tmp_path: Path) -> None:
    results = results_of(finished_search(full_cpu=20.0))
    for t in results["trials"]:
        assert t["computeSource"] == "trainer" and t["cpuSeconds"] in (3.0, 20.0)
    assert results["cost"]["computeSource"] == {"trainer": 5}
    results["cost"]["resourceSeconds"] = {"cpu": 61.5, "gpu": 0.0, "pods": 5}  # from a cluster
    (tmp_path / "results.json").write_text(json.dumps(results))
    html = render_report(tmp_path).read_text()
    assert "<b>2.5x less compute than a full search</b>" in html
    assert "a full search: 80.0 CPU-seconds (1 completed full-data run (stage 2)" in html
    assert "trainer counters for 5 trials" in html
    assert "its 5 pods held their requests for 61.5 CPU-seconds" in html
    assert "Examples trained: 24,000" in html and "2.0x less than a full search" in html
    assert html.index("compute than a full search") < html.index("Examples trained")
    assert (tmp_path / "plots" / "cost.png").stat().st_size > 10_000
    lines = outcome_lines(results, tmp_path)
    assert any(line.startswith("compute: 32 CPU-s, 2.5x less") for line in lines), lines


def test_a_results_file_from_before_compute_renders_its_examples_honestly(tmp_path: Path) -> None:
    results = results_of(finished_search(full_cpu=20.0))
    old = {k: results["cost"][k] for k in ("stage1Examples", "stage2Examples", "totalExamples",
                                            "fullRunExamples", "fullSearchExamples")}  # fmt: skip
    old["reduction"] = 2.0  # what 'reduction' meant then: examples
    results["cost"] = old
    (tmp_path / "results.json").write_text(json.dumps(results))
    html = render_report(tmp_path).read_text()
    assert "compute reduction not recorded (written before compute was measured)" in html
    assert "2.0x less than a full search" in html
    assert outcome_lines(results, tmp_path)[-4] == (
        "compute: not recorded (written before compute was measured); examples 24,000, 2.0x less"
    )
