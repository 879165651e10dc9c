"""Scrambled Sobol quasi-random search: covers the space more evenly than random for few trials."""

from __future__ import annotations

import warnings

from scipy.stats import qmc

from hypersearch.engine.samplers.base import History, Params, Sampler, from_unit


class SobolSampler(Sampler):
    name = "sobol"

    def sample(self, index: int, history: History) -> Params:
        engine = qmc.Sobol(d=len(self.parameters), scramble=True, seed=self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # balance warnings for non-powers of two
            point = engine.random(index + 1)[index]
        return {p.name: from_unit(p, float(u)) for p, u in zip(self.parameters, point, strict=True)}
