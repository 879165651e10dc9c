"""ASHA as peers run it: the raw metric over the recent windows at each rung, top 1/eta go on."""

from __future__ import annotations

from hypersearch.engine.stopping.base import RungContext, StoppingRule, rank_verdict, row_means


class AshaStopping(StoppingRule):
    name = "asha"

    def decide(self, ctx: RungContext) -> str | None:
        scores = ctx.memo("asha", lambda: row_means(ctx.values[:, ctx.compared]))
        return rank_verdict(ctx, scores, "recent")
