"""The report's PNG plots, drawn from ``results.json`` alone (headless matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from hypersearch.report.costtext import basis, compute_total, factor, normalized


def _cohort_median(results: dict[str, Any]) -> dict[int, float]:
    """Per-window median over stage-1 trials: drift is shared, so gaps to it are comparable."""
    per: dict[int, list[float]] = {}
    for t in results["trials"]:
        if t["stage"] == 1:
            for w, v in t["trajectory"]:
                per.setdefault(int(w), []).append(float(v))
    return {w: float(np.median(v)) for w, v in per.items()}


def trajectories(results: dict[str, Any], path: Path) -> None:
    """Each trial's windowed metric (top) and its gap to the cohort median (bottom), with stops."""
    median = _cohort_median(results)
    promoted = set(results["promoted"])
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    raw: list[float] = []
    gaps: list[float] = []
    for t in results["trials"]:
        traj = np.array(t["trajectory"], dtype=float).reshape(-1, 2)
        if traj.size == 0:
            continue
        w, v = traj[:, 0], traj[:, 1]
        rel = np.array([(val - median.get(int(x), val)) / abs(median.get(int(x), 1.0) or 1.0)
                        for x, val in zip(w, v, strict=True)]) * 100  # fmt: skip
        if t["stage"] == 2:
            style: dict[str, Any] = {"lw": 1.6, "ls": "--", "label": t["name"]}
        elif t["name"] in promoted:
            style = {"lw": 1.4, "label": f"{t['name']} (promoted)"}
        else:
            style = {"lw": 0.8, "alpha": 0.5, "color": "grey"}
        raw.extend(v.tolist())
        gaps.extend(rel.tolist())
        ax1.plot(w, v, **style)
        ax2.plot(w, rel, **style)
        if t["state"] in ("Stopped", "Failed"):
            marker = "x" if t["state"] == "Stopped" else "v"
            color = "tab:red" if t["state"] == "Failed" else "black"
            ax1.plot(w[-1], v[-1], marker, color=color, ms=7)
            ax2.plot(w[-1], rel[-1], marker, color=color, ms=7)
    # Early windows of untrained models can be off by orders of magnitude: zoom on the bulk.
    for ax, vals in ((ax1, raw), (ax2, gaps)):
        if vals:
            q_lo, q_hi = np.nanpercentile(vals, [1, 97])
            pad = (q_hi - q_lo) * 0.15 or 0.01
            ax.set_ylim(q_lo - pad, q_hi + pad)
    lo, hi = results["targetWindows"]
    for ax in (ax1, ax2):
        ax.axvspan(lo - 0.5, hi - 0.5, color="tab:green", alpha=0.08)
    ax1.set_ylabel(results["metric"])
    ax2.set_ylabel(f"gap to cohort median (%), {results['goal']}")
    ax2.axhline(0, color="black", lw=0.5)
    ax2.set_xlabel(results["windowName"])
    ax1.set_title("Trajectories (x = stopped, v = failed; shaded: evaluation window)")
    handles, _labels = ax1.get_legend_handles_labels()
    if handles:
        ax1.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _target_mean(t: dict[str, Any], lo: int, hi: int) -> float | None:
    vals = [v for w, v in t["trajectory"] if lo <= w < hi]
    return float(np.mean(vals)) if vals and len(vals) == hi - lo else None


def predicted_vs_observed(results: dict[str, Any], path: Path) -> None:
    """Stage-1 predictions against the evaluation-window score actually observed."""
    lo, hi = results["targetWindows"]
    fig, ax = plt.subplots(figsize=(6, 6))
    xs: list[float] = []
    ys: list[float] = []
    s1 = [(t["predicted"], _target_mean(t, lo, hi)) for t in results["trials"]
          if t["stage"] == 1 and t["predicted"] is not None]  # fmt: skip
    s1 = [(p, o) for p, o in s1 if o is not None]
    if s1:
        p, o = zip(*s1, strict=True)
        ax.scatter(p, o, c="grey", s=18, label="stage 1 (reduced data, completed)")
        xs += p
        ys += o
    s2 = [(r["predicted"], r["final"], r["name"]) for r in results["stage2"]
          if r["predicted"] is not None and r["final"] is not None]  # fmt: skip
    for p2, f2, name in s2:
        ax.scatter([p2], [f2], s=50, label=f"{name} (full training)")
        xs.append(p2)
        ys.append(f2)
    if xs:
        lo_v, hi_v = min(xs + ys), max(xs + ys)
        pad = (hi_v - lo_v) * 0.05 or 0.01
        ax.plot([lo_v - pad, hi_v + pad], [lo_v - pad, hi_v + pad], color="black", lw=0.6)
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, "no predictions yet", ha="center", transform=ax.transAxes)
    ax.set_xlabel(f"predicted {results['metric']} on the evaluation window")
    ax.set_ylabel(f"observed {results['metric']} on the evaluation window")
    ax.set_title("Predicted vs observed final score")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cost(results: dict[str, Any], path: Path) -> None:
    """Compute (top): this search (stage 1 + stage 2) against running every config fully;
    training examples (bottom), beside it."""
    c = normalized(results["cost"])
    unit = str(c.get("computeUnit") or "CPU-seconds")
    fig, (ax, ax_ex) = plt.subplots(2, 1, figsize=(8, 4.6), height_ratios=[3, 2])
    s1, s2 = compute_total(c, "stage1") or 0.0, compute_total(c, "stage2") or 0.0
    ax.barh(["this search"], [s1], color="tab:blue", label="stage 1")
    ax.barh(["this search"], [s2], left=[s1], color="tab:orange", label="stage 2")
    full = compute_total(c, "fullSearch")
    if full:
        estimated = " (estimated)" if c.get("fullRunComputeEstimated") else ""
        ax.barh(["full search"], [full], color="grey", label=f"full search{estimated}")
    if c.get("reduction"):
        ax.set_title(
            f"Compute: {factor(float(c['reduction']))} than a full search ({basis(c)})",
            fontsize=10,
        )
    else:
        ax.set_title(f"Compute: reduction {c.get('computeNote') or 'not known'}", fontsize=10)
    ax.set_xlabel(unit)
    ax.legend(fontsize=7, loc="lower right")
    e1, e2 = c["stage1Examples"] or 0.0, c["stage2Examples"] or 0.0
    ax_ex.barh(["this search"], [e1], color="tab:blue", alpha=0.6)
    ax_ex.barh(["this search"], [e2], left=[e1], color="tab:orange", alpha=0.6)
    full_ex = c.get("fullSearchExamples")
    if full_ex:
        ax_ex.barh(["full search"], [full_ex], color="grey", alpha=0.6)
    reduction = c.get("examplesReduction")
    ax_ex.set_title(
        "Training examples"
        + (f": {factor(float(reduction))} than a full search" if reduction else ""),
        fontsize=9,
    )
    ax_ex.set_xlabel("training examples")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


PLOTS = {
    "trajectories.png": trajectories,
    "predicted_vs_observed.png": predicted_vs_observed,
    "cost.png": cost,
}
