"""The few lines printed at the end of ``hypersearch run``: outcome, winners, cost, where to look."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def outcome_lines(results: dict[str, Any], directory: Path) -> list[str]:
    lines = [f"{results['search']}: {results['phase']} — {results['reason']}"]
    finals = sorted(
        (r for r in results["stage2"] if r["final"] is not None),
        key=lambda r: r["final"] * (1 if results["goal"] == "minimize" else -1),
    )
    if finals:
        lines.append(f"winners ({results['metric']} on the evaluation window, full training):")
        for i, r in enumerate(finals, 1):
            params = " ".join(f"{k}={_fmt(v)}" for k, v in r["params"].items())
            lines.append(f"  {i}. {r['source']}  {r['final']:.5f}  {params}")
    c = results["cost"]
    if c.get("reduction"):
        lines.append(
            f"cost: {c['totalExamples']:,.0f} training examples, "
            f"{c['reduction']:.1f}x less than a full search ({c['fullSearchExamples']:,.0f})"
        )
    lines.append(f"elapsed: {results['elapsedSeconds']:.0f}s")
    lines.append(f"results: {directory / 'results.json'}  report: {directory / 'report.html'}")
    return lines


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
