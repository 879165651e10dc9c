"""No early stopping: every stage-1 trial runs its whole data (the full-search baseline)."""

from __future__ import annotations

from hypersearch.engine.stopping.base import RungContext, StoppingRule
from hypersearch.spec.model import SearchSpec


class NoStopping(StoppingRule):
    name = "none"

    def checkpoints(self, spec: SearchSpec) -> list[float]:
        return []

    def decide(self, ctx: RungContext) -> str | None:
        return None
