"""Hash-based, seeded sub-sampling of the training stream.

The keep decision of an example depends only on (seed, example id), never on a random
generator's state, so every trial of a search (and a resumed process) sees exactly the same
examples: comparisons between trials are paired. Evaluation is never sub-sampled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hypersearch_trainer.hashing import splitmix64, unit_uniform

SAMPLING_KINDS = ("uniform", "negatives")


@dataclass(frozen=True)
class Sampler:
    """Keeps a fraction ``rate`` of the examples.

    ``uniform`` keeps any example with probability ``rate`` (weight 1). ``negatives`` keeps every
    positive and each negative with probability ``rate``, weighting kept negatives by
    ``1/rate`` so the weighted loss stays an unbiased estimate of the full-data loss.
    """

    rate: float = 1.0
    kind: str = "uniform"
    seed: int = 0

    def keep(
        self, example_ids: npt.NDArray[np.int64], labels: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32]]:
        """Return the keep mask and the training weight of every example."""
        n = len(example_ids)
        weights = np.ones(n, dtype=np.float32)
        if self.rate >= 1.0:
            return np.ones(n, dtype=bool), weights
        seed_key = splitmix64(np.array([self.seed], dtype=np.int64).view(np.uint64))[0]
        u = unit_uniform(splitmix64(example_ids.view(np.uint64) ^ seed_key))
        chosen = u < self.rate
        if self.kind == "negatives":
            positive = labels > 0.5
            weights[~positive] = np.float32(1.0 / self.rate)
            return chosen | positive, weights
        return chosen, weights
