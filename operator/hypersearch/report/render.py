"""Write ``results.json`` and render ``report.html`` (with its PNGs) into a results directory."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from hypersearch.report.costtext import basis, compute_total, factor, normalized, sources_text
from hypersearch.report.files import finite_document, write_json_atomic
from hypersearch.report.plots import PLOTS

RESULTS_FILE = "results.json"
REPORT_FILE = "report.html"


def write_results(directory: Path, results: dict[str, Any]) -> Path:
    """Save the results document (strict JSON: a non-finite number is null, listed in
    ``nonFinite``) and render the report next to it; returns the report path."""
    write_json_atomic(directory / RESULTS_FILE, finite_document(results))
    return render_report(directory)


def render_report(directory: Path) -> Path:
    """Render ``report.html`` and its plots from ``DIR/results.json``.

    A HyperSearch in a cluster gets its ``results.json`` from :mod:`hypersearch.report.cluster`.
    """
    path = directory / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a results directory")
    with open(path, encoding="utf-8") as f:
        results: dict[str, Any] = json.load(f)
    plots = directory / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    for name, draw in PLOTS.items():
        draw(results, plots / name)
    out = directory / REPORT_FILE
    out.write_text(_html(results), encoding="utf-8")
    return out


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}" if abs(v) < 1e4 else f"{v:,.0f}"
    return html.escape(str(v))


def _cost_html(c: dict[str, Any]) -> str:
    """Compute first (the headline), examples beside it, and where each figure comes from."""
    e = html.escape
    unit = str(c.get("computeUnit") or "CPU-seconds")
    s1, s2 = compute_total(c, "stage1"), compute_total(c, "stage2")
    full = compute_total(c, "fullSearch")
    if c.get("reduction"):
        headline = (
            f"<b>{factor(float(c['reduction']))} compute than a full search</b> ({e(basis(c))})"
        )
    else:
        headline = f"<b>compute reduction {e(str(c.get('computeNote') or 'not known'))}</b>"
    full_text = (
        f"a full search: {_fmt(full, 1)} {e(unit)} "
        f"({e(str(c.get('fullRunComputeSource')))}, times the configurations)"
        if full is not None
        else "a full search: not known yet"
    )
    examples = (
        f"{factor(float(c['examplesReduction']))} than a full search"
        if c.get("examplesReduction")
        else "reduction not known yet"
    )
    held = c.get("resourceSeconds")
    pods = (
        f" In the cluster, its {held.get('pods', 0)} pods held their requests for "
        f"{_fmt(float(held.get('cpu') or 0.0), 1)} CPU-seconds and "
        f"{_fmt(float(held.get('gpu') or 0.0), 1)} GPU-seconds (requests x pod lifetime, "
        "Pending and image pulls included)."
        if isinstance(held, dict)
        else ""
    )
    return (
        f"Cost: {headline}. Compute: {_fmt(compute_total(c), 1)} {e(unit)} (stage 1 "
        f"{_fmt(s1, 1)}, stage 2 {_fmt(s2, 1)}); {full_text}. Compute from "
        f"{e(sources_text(c))}.{pods}</li>\n<li>Examples trained: {_fmt(c['totalExamples'])} (stage 1 "
        f"{_fmt(c['stage1Examples'])}, stage 2 {_fmt(c['stage2Examples'])}); a full search: "
        f"{_fmt(c.get('fullSearchExamples'))}; {examples}"
    )


def _html(r: dict[str, Any]) -> str:
    c = normalized(r["cost"])
    e = html.escape
    rows = []
    for t in r["trials"]:
        params = ", ".join(f"{k}={_fmt(v, 4)}" for k, v in t["params"].items())
        rows.append(
            f"<tr class='{e(t['state'].lower())}'><td>{e(t['name'])}</td><td>{t['stage']}</td>"
            f"<td>{e(params)}</td><td>{e(t['state'])}</td><td>{_fmt(t['position'], 1)}</td>"
            f"<td>{_fmt(t.get('cpuSeconds'), 1)}</td><td>{_fmt(t.get('gpuSeconds'), 1)}</td>"
            f"<td>{e(str(t.get('computeSource') or ''))}</td>"
            f"<td>{_fmt(t['examples'])}</td><td>{_fmt(t['predicted'])}</td>"
            f"<td>{_fmt(t['final'])}</td><td>{e(t['reason'])}</td></tr>"
        )
    plots = "".join(
        f"<figure><img src='plots/{name}' alt='{name}'><figcaption>{name}</figcaption></figure>"
        for name in PLOTS
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>HyperSearch {e(r["search"])}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }} table {{ border-collapse: collapse; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 3px 8px; font-size: 13px; text-align: left; }}
tr.failed td {{ color: #b00; }} tr.stopped td {{ color: #666; }}
img {{ max-width: 100%; }} figure {{ margin: 1em 0; }}
</style></head><body>
<h1>HyperSearch {e(r["search"])}: {e(r["phase"])}</h1>
<p>{e(r["reason"])}</p>
<ul>
<li>Winner: <b>{e(str(r["winner"]))}</b>; promoted to stage 2: {e(", ".join(r["promoted"]))}</li>
<li>Objective: {e(r["goal"])} {e(r["metric"])} over the last {r["evaluationWindows"]}
 of {r["windows"]} {e(r["windowName"])}s</li>
<li>{_cost_html(c)}</li>
<li>Wall time: {_fmt(r["elapsedSeconds"], 1)} s</li>
</ul>
{plots}
<h2>Trials</h2>
<table><tr><th>trial</th><th>stage</th><th>parameters</th><th>state</th><th>position</th>
<th>CPU-s</th><th>GPU-s</th><th>compute from</th>
<th>examples</th><th>predicted</th><th>final</th><th>reason</th></tr>
{"".join(rows)}
</table>
<p>Machine-readable: <a href="results.json">results.json</a></p>
</body></html>
"""
