"""The few lines printed at the end of ``hypersearch run``: outcome, winners, cost (compute first,
examples beside it), where to look."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypersearch.report.costtext import cost_line, normalized, sources_text


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
    c = normalized(results["cost"])
    lines.append(cost_line(c))
    full = c.get("fullRunComputeSource")
    lines.append(
        f"  compute from {sources_text(c)}" + (f"; a full run's compute: {full}" if full else "")
    )
    lines.append(f"elapsed: {results['elapsedSeconds']:.0f}s")
    lines.append(f"results: {directory / 'results.json'}  report: {directory / 'report.html'}")
    return lines


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
