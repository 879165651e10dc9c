"""History policies, chosen by name: learning from earlier searches of the same model family
(issue 16, lead 3). Pure numpy; the caller reads the earlier searches."""

from typing import Any

from hypersearch.engine.history.base import (
    HistoryPolicy,
    HistoryRanking,
    PlainPolicy,
    Search,
    encode,
)
from hypersearch.engine.history.residual import ResidualPolicy
from hypersearch.engine.registry import lookup

HISTORY_POLICIES: dict[str, type[HistoryPolicy]] = {
    p.name: p for p in (PlainPolicy, ResidualPolicy)
}


def history_by_name(name: str, **settings: Any) -> HistoryPolicy:
    """The policy ``name`` names, built from its own ``settings``."""
    cls = lookup(HISTORY_POLICIES, name, "history policy")
    return cls(**settings)


__all__ = [
    "HISTORY_POLICIES",
    "HistoryPolicy",
    "HistoryRanking",
    "PlainPolicy",
    "ResidualPolicy",
    "Search",
    "encode",
    "history_by_name",
]
