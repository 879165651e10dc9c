"""Predictors of a trial's final target, chosen by name (``spec.stage1.predictor.name``)."""

from hypersearch.engine.predictors.base import PredictionContext, Predictor
from hypersearch.engine.predictors.constant import ConstantPredictor
from hypersearch.engine.predictors.stratified import StratifiedPredictor
from hypersearch.engine.predictors.trajectory import TrajectoryPredictor
from hypersearch.engine.registry import lookup
from hypersearch.spec.model import SearchSpec

PREDICTORS: dict[str, type[Predictor]] = {
    p.name: p for p in (ConstantPredictor, TrajectoryPredictor, StratifiedPredictor)
}


def predictor_from_spec(spec: SearchSpec) -> Predictor:
    """The predictor ``spec.predictor.name`` names, built from the spec's settings (the one place)."""
    cls = lookup(PREDICTORS, spec.predictor.name, "predictor")
    return cls(recent_windows=spec.predictor.recent_windows)


__all__ = [
    "PREDICTORS",
    "ConstantPredictor",
    "PredictionContext",
    "Predictor",
    "StratifiedPredictor",
    "TrajectoryPredictor",
    "predictor_from_spec",
]
