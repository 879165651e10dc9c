"""ASHA as peers run it: the raw metric over the recent windows at each rung, top 1/eta go on."""

from __future__ import annotations

from hypersearch.engine.stopping.base import (
    Rung,
    Standing,
    TopFractionRule,
    recent_columns,
    row_means,
    standing_of,
)


class AshaStopping(TopFractionRule):
    """Mean of each trial's last ``compare_windows`` windows before the rung, ranked in the cohort.

    ``AshaStopping(eta=3, min_cohort=4, compare_windows=7)``: at each rung (explicit ``rungs``, or
    geometric from ``min_position`` by ``eta``), once ``min_cohort`` trials reached it, a trial
    outside the top ``1/eta`` of them is stopped. Windows without examples for the whole cohort
    (an outage) are skipped: the last ``compare_windows`` windows with data are compared.
    """

    name = "asha"
    label = "recent"

    def rank(self, rung: Rung) -> Standing:
        return standing_of(row_means(recent_columns(rung, self.compare_windows)), rung.cohort)

    def decide(self, rung: Rung, standing: Standing, row: int) -> str | None:
        return self.verdict(rung, standing, standing.scores, row)
