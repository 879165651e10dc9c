"""Promotion policies, chosen by name: which stage-1 configurations continue to a higher data
rate and which go to stage 2 (issue 16: plain rank, family-aware, extrapolation across rates)."""

from typing import Any

from hypersearch.engine.promotion.base import Candidates, Promotion, Ranking, guarded_order
from hypersearch.engine.promotion.extrapolate import (
    ExtrapolationPromotion,
    PowerLawFit,
    fit_power_law,
)
from hypersearch.engine.promotion.family import FamilyPromotion, family_first
from hypersearch.engine.promotion.rank import RankPromotion
from hypersearch.engine.registry import lookup

PROMOTIONS: dict[str, type[Promotion]] = {
    p.name: p for p in (RankPromotion, FamilyPromotion, ExtrapolationPromotion)
}


def promotion_by_name(name: str, **settings: Any) -> Promotion:
    """The policy ``name`` names, built from its own ``settings``."""
    cls = lookup(PROMOTIONS, name, "promotion policy")
    return cls(**settings)


__all__ = [
    "PROMOTIONS",
    "Candidates",
    "ExtrapolationPromotion",
    "FamilyPromotion",
    "PowerLawFit",
    "Promotion",
    "RankPromotion",
    "Ranking",
    "family_first",
    "fit_power_law",
    "guarded_order",
    "promotion_by_name",
]
