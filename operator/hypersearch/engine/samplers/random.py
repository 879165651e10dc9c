"""Uniform random search (on each parameter's scale), seeded per trial index."""

from __future__ import annotations

import numpy as np

from hypersearch.engine.samplers.base import History, Params, Sampler, from_unit


class RandomSampler(Sampler):
    name = "random"

    def sample(self, index: int, history: History) -> Params:
        rng = np.random.default_rng([self.seed, index])
        return {p.name: from_unit(p, float(rng.random())) for p in self.parameters}
