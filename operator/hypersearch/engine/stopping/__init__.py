"""Stopping rules, chosen by name (``spec.stage1.stopping.rule``) and built from their settings."""

from typing import Any

from hypersearch.engine.stopping.asha import AshaStopping
from hypersearch.engine.stopping.base import (
    Rung,
    Standing,
    StoppingRule,
    geometric_rungs,
    standing_of,
)
from hypersearch.engine.stopping.median import MedianStopping
from hypersearch.engine.stopping.none import NoStopping
from hypersearch.engine.stopping.performance import PerformanceStopping
from hypersearch.spec.model import SearchSpec

STOPPING_RULES: dict[str, type[StoppingRule]] = {
    r.name: r for r in (PerformanceStopping, AshaStopping, MedianStopping, NoStopping)
}


def stopping_rule_from_spec(spec: SearchSpec) -> StoppingRule:
    """The rule ``spec.stopping.rule`` names, built from the spec's settings (the one place)."""
    s = spec.stopping
    # Every rule with rungs takes the same settings (performance also a confidence).
    shared: dict[str, Any] = {
        "eta": s.eta,
        "min_cohort": s.min_cohort,
        "compare_windows": s.compare_windows,
        "rungs": s.rungs,
        "min_position": s.min_position,
        "metric": spec.metric,
        "goal_sign": spec.sign,
        "window_name": spec.window_name,
    }
    if s.rule == "performance":
        return PerformanceStopping(confidence=s.confidence, **shared)
    if s.rule == "asha":
        return AshaStopping(**shared)
    if s.rule == "median":
        return MedianStopping(**shared)
    if s.rule == "none":
        return NoStopping()
    raise ValueError(f"unknown stopping rule {s.rule!r}; known: {', '.join(STOPPING_RULES)}")


__all__ = [
    "STOPPING_RULES",
    "AshaStopping",
    "MedianStopping",
    "NoStopping",
    "PerformanceStopping",
    "Rung",
    "Standing",
    "StoppingRule",
    "geometric_rungs",
    "standing_of",
    "stopping_rule_from_spec",
]
