"""The cost of a search in words, from the ``cost`` dict of the status and ``results.json``:
compute first (what users pay for), examples beside it. One wording for the live progress
display, the end-of-run text and the report."""

from __future__ import annotations

from typing import Any

SHORT_UNIT = {"CPU-seconds": "CPU-s", "GPU-seconds": "GPU-s"}


def normalized(c: dict[str, Any]) -> dict[str, Any]:
    """A cost dict as it is written now. In files written before compute was recorded,
    ``reduction`` counted training examples: it is moved to ``examplesReduction``."""
    if "computeUnit" in c:
        return c
    old = dict(c)
    old["examplesReduction"] = old.pop("reduction", None)
    old["reduction"] = None
    old["computeNote"] = "not recorded (written before compute was measured)"
    return old


def amount(value: float) -> str:
    """412, 7,310, 7.3M: short but exact enough to compare."""
    if abs(value) >= 1e6:
        return f"{value / 1e6:.1f}M"
    if abs(value) >= 10:
        return f"{value:,.0f}"
    return f"{value:.2g}" if value else "0"


def _unit(c: dict[str, Any]) -> str:
    return str(c.get("computeUnit") or "CPU-seconds")


def compute_total(c: dict[str, Any], which: str = "total") -> float | None:
    """``total``/``stage1``/``stage2``/``fullRun``/``fullSearch`` in the headline unit."""
    kind = "Gpu" if _unit(c) == "GPU-seconds" else "Cpu"
    value = c.get(f"{which}{kind}Seconds")
    return None if value is None else float(value)


def factor(reduction: float) -> str:
    """``5.1x less`` (or ``1.3x more`` when a search cost more than a full one)."""
    if reduction >= 1:
        return f"{reduction:.1f}x less"
    return f"{1 / reduction:.1f}x more" if reduction > 0 else "no less"


def basis(c: dict[str, Any]) -> str:
    """Where the full-run compute comes from, in a few words."""
    runs = int(c.get("fullRunComputeRuns") or 0)
    plural = "s" if runs != 1 else ""
    if c.get("fullRunComputeEstimated"):
        return f"est. from {runs} running full-data run{plural}"
    return f"from {runs} completed full-data run{plural}"


def cost_line(c: dict[str, Any]) -> str:
    """``compute: 412 CPU-s, 5.1x less than a full search (est. from 2 full-data runs);
    examples 7.3M, 5.7x less``."""
    unit = SHORT_UNIT.get(_unit(c), _unit(c))
    total = compute_total(c)
    if total is None:
        text = f"compute: {c.get('computeNote') or 'not recorded'}; "
    else:
        if c.get("reduction"):
            compute = f"{factor(float(c['reduction']))} than a full search ({basis(c)})"
        else:
            compute = "reduction " + str(c.get("computeNote") or "not known yet")
        text = f"compute: {amount(total)} {unit}, {compute}; "
    text += f"examples {amount(float(c.get('totalExamples') or 0.0))}"
    if c.get("examplesReduction"):
        text += f", {factor(float(c['examplesReduction']))}"
    return text


def sources_text(c: dict[str, Any]) -> str:
    """``trainer counters for 12 trials, rusage for 2``."""
    names = {
        "trainer": "trainer counters",
        "rusage": "measured process CPU time (rusage)",
        "pod-requests": "pod running time x requests",
        "unknown": "unknown",
    }
    parts = [
        f"{names.get(k, k)} for {n} trial{'s' if n != 1 else ''}"
        for k, n in (c.get("computeSource") or {}).items()
    ]
    return ", ".join(parts) or "no trial has reported compute yet"


__all__ = [
    "amount",
    "basis",
    "compute_total",
    "cost_line",
    "factor",
    "normalized",
    "sources_text",
]
