"""Samplers of configurations, chosen by name (``spec.sampler.name``)."""

from hypersearch.engine.registry import lookup
from hypersearch.engine.samplers.base import History, Params, Sampler
from hypersearch.engine.samplers.grid import GridSampler
from hypersearch.engine.samplers.random import RandomSampler
from hypersearch.engine.samplers.sobol import SobolSampler
from hypersearch.engine.samplers.tpe import TPESampler
from hypersearch.spec.model import SearchSpec

SAMPLERS: dict[str, type[Sampler]] = {
    s.name: s for s in (RandomSampler, GridSampler, SobolSampler, TPESampler)
}


def make_sampler(spec: SearchSpec) -> Sampler:
    """The sampler named by the spec, seeded with the search's seed."""
    cls = lookup(SAMPLERS, spec.sampler.name, "sampler")
    return cls(spec.parameters, spec.seed, spec.sampler)


__all__ = ["SAMPLERS", "History", "Params", "Sampler", "make_sampler"]
