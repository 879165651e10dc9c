"""The sampler interface: configuration number ``index`` of a seeded, reproducible search."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar

from hypersearch.spec.model import Parameter, ParamValue, SamplerSpec

Params = dict[str, ParamValue]
History = list[tuple[Params, float]]


class Sampler(ABC):
    """Draws configurations; implementations are chosen by ``name`` in the spec.

    ``sample`` must be a pure function of the spec, the seed, the index and the history, so that a
    restored search draws exactly what an uninterrupted one would.
    """

    name: ClassVar[str]

    def __init__(self, parameters: tuple[Parameter, ...], seed: int, settings: SamplerSpec) -> None:
        self.parameters = parameters
        self.seed = seed
        self.settings = settings

    def size(self) -> int | None:
        """How many distinct configurations exist, when finite (grid); None otherwise."""
        return None

    @abstractmethod
    def sample(self, index: int, history: History) -> Params:
        """Configuration ``index``.

        Args:
            index: 0-based trial number.
            history: finished configurations and their scores (lower is better), by trial id.
        Returns:
            A value for every parameter.
        """


SEED_MAX = 2**31 - 1  # spec.seed is in [0, SEED_MAX] (checked at validation)
_SEED_SPACE = 2**32  # what numpy's and Optuna's generators accept: [0, 2**32 - 1]


def draw_seed(seed: int, index: int) -> int:
    """The seed of draw ``index`` of a search seeded with ``seed``, always in [0, 2**32).

    Distinct for every index of one search. Equal to ``seed * 1_000_003 + index`` wherever that
    fitted in 32 bits (seeds below 4295), so searches started before the wrap draw the same.
    """
    return (seed * 1_000_003 + index) % _SEED_SPACE


def from_unit(p: Parameter, u: float) -> ParamValue:
    """Map ``u`` in [0, 1) to a value of ``p`` on its scale (and step, when given)."""
    u = min(max(u, 0.0), 1.0 - 1e-12)
    if p.type == "categorical":
        return p.values[int(u * len(p.values))]
    assert p.min is not None and p.max is not None
    lo, hi = float(p.min), float(p.max)
    if p.type == "int":
        hi += 1.0  # every integer in [min, max] gets an equal share
    if p.scale == "log":
        x = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
    else:
        x = lo + u * (hi - lo)
    if p.step:
        x = lo + round((x - lo) / p.step) * p.step
    if p.type == "int":
        return int(min(max(math.floor(x), p.min), p.max))
    return float(min(max(x, p.min), p.max))
