"""Grid search: the Cartesian product, enumerated in a fixed order."""

from __future__ import annotations

import math

import numpy as np

from hypersearch.engine.samplers.base import History, Params, Sampler, from_unit
from hypersearch.spec.model import Parameter, ParamValue


def axis(p: Parameter, points: int) -> list[ParamValue]:
    """The grid values of one parameter: its choices, its step, or ``points`` on its scale."""
    if p.type == "categorical":
        return list(p.values)
    assert p.min is not None and p.max is not None
    if p.step:
        n = math.floor((p.max - p.min) / p.step + 1e-9) + 1
        raw = [p.min + i * p.step for i in range(n)]
        return [round(v) if p.type == "int" else float(v) for v in raw]
    if p.type == "int" and p.max - p.min + 1 <= points:
        return list(range(int(p.min), int(p.max) + 1))
    if p.scale == "log":
        values = np.geomspace(p.min, p.max, points)
    else:
        values = np.linspace(p.min, p.max, points)
    if p.type == "int":
        return sorted({round(v) for v in values})
    return [float(v) for v in values]


class GridSampler(Sampler):
    name = "grid"

    def _axes(self) -> list[list[ParamValue]]:
        return [axis(p, self.settings.grid_points) for p in self.parameters]

    def size(self) -> int:
        return math.prod(len(a) for a in self._axes())

    def sample(self, index: int, history: History) -> Params:
        axes = self._axes()
        if index >= self.size():
            raise IndexError(f"grid has only {self.size()} points")
        out: Params = {}
        for p, values in zip(reversed(self.parameters), reversed(axes), strict=True):
            index, i = divmod(index, len(values))
            out[p.name] = values[i]
        return {p.name: out[p.name] for p in self.parameters}


__all__ = ["GridSampler", "axis", "from_unit"]
