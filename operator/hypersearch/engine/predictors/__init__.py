"""Predictors of a trial's final target, chosen by name (``spec.stage1.predictor.name``)."""

from hypersearch.engine.predictors.base import PredictionContext, Predictor
from hypersearch.engine.predictors.constant import ConstantPredictor
from hypersearch.engine.predictors.stratified import StratifiedPredictor
from hypersearch.engine.predictors.trajectory import TrajectoryPredictor

PREDICTORS: dict[str, type[Predictor]] = {
    p.name: p for p in (ConstantPredictor, TrajectoryPredictor, StratifiedPredictor)
}


def make_predictor(name: str) -> Predictor:
    """The predictor registered under ``name``."""
    try:
        return PREDICTORS[name]()
    except KeyError:
        raise ValueError(f"unknown predictor {name!r}; known: {', '.join(PREDICTORS)}") from None


__all__ = ["PREDICTORS", "PredictionContext", "Predictor", "make_predictor"]
