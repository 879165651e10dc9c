"""Stopping rules, chosen by name (``spec.stage1.stopping.rule``)."""

from hypersearch.engine.stopping.asha import AshaStopping
from hypersearch.engine.stopping.base import RungContext, StoppingRule, geometric_rungs
from hypersearch.engine.stopping.median import MedianStopping
from hypersearch.engine.stopping.none import NoStopping
from hypersearch.engine.stopping.performance import PerformanceStopping

STOPPING_RULES: dict[str, type[StoppingRule]] = {
    r.name: r for r in (PerformanceStopping, AshaStopping, MedianStopping, NoStopping)
}


def make_stopping_rule(name: str) -> StoppingRule:
    """The stopping rule registered under ``name``."""
    try:
        return STOPPING_RULES[name]()
    except KeyError:
        known = ", ".join(STOPPING_RULES)
        raise ValueError(f"unknown stopping rule {name!r}; known: {known}") from None


__all__ = ["STOPPING_RULES", "RungContext", "StoppingRule", "geometric_rungs", "make_stopping_rule"]
