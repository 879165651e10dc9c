"""Hash-based, seeded sub-sampling of the training stream.

The keep decision of an example depends only on (seed, example id), never on a random
generator's state, so every trial of a search (and a resumed process) sees exactly the same
examples: comparisons between trials are paired. The evaluation sample (``HS_EVAL_RATE``) is the
same hash below a threshold, so samples are nested (a smaller rate's sample is inside a larger
one's), identical for all trials, and a prefix of the prepared shards, which store each window's
rows ordered by this hash.
"""

from __future__ import annotations

from collections.abc import Callable
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

    def uniform(self, example_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """The example's seeded hash in [0, 1): the one number every sampling decision uses."""
        seed_key = splitmix64(np.array([self.seed], dtype=np.int64).view(np.uint64))[0]
        return unit_uniform(splitmix64(example_ids.view(np.uint64) ^ seed_key))

    def needed(
        self, example_ids: npt.NDArray[np.int64], labels: npt.NDArray[np.float32], eval_rate: float
    ) -> npt.NDArray[np.bool_]:
        """Rows either trained on or scored (at ``eval_rate``): all a run must read of a window."""
        if self.rate >= 1.0 or eval_rate >= 1.0:
            return np.ones(len(example_ids), dtype=bool)
        chosen = self.uniform(example_ids) < max(self.rate, eval_rate)
        if self.kind == "negatives":
            chosen |= labels > 0.5
        return chosen

    def scored(self, example_ids: npt.NDArray[np.int64], eval_rate: float) -> npt.NDArray[np.bool_]:
        """The rows progressive validation scores at ``eval_rate`` (every row at rate 1)."""
        if eval_rate >= 1.0:
            return np.ones(len(example_ids), dtype=bool)
        out: npt.NDArray[np.bool_] = self.uniform(example_ids) < eval_rate
        return out

    def keep(
        self, example_ids: npt.NDArray[np.int64], labels: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float32]]:
        """Return the keep mask and the training weight of every example."""
        n = len(example_ids)
        weights = np.ones(n, dtype=np.float32)
        if self.rate >= 1.0:
            return np.ones(n, dtype=bool), weights
        chosen = self.uniform(example_ids) < self.rate
        if self.kind == "negatives":
            positive = labels > 0.5
            weights[~positive] = np.float32(1.0 / self.rate)
            return chosen | positive, weights
        return chosen, weights


@dataclass(frozen=True)
class RowSelection:
    """The rows of each window a run needs: its training sample and its evaluation sample.

    Sources read and featurise only these rows (prepared shards read only the hash buckets
    below :meth:`bound`); example ids stay those of the full window, so every decision is the
    one the full window would give.
    """

    sampler: Sampler
    eval_rate: Callable[[int], float]

    def bound(self, window: int) -> float:
        """Every needed row has a sampling hash below this (besides positives, see below)."""
        return max(self.sampler.rate, self.eval_rate(window))

    @property
    def all_positives(self) -> bool:
        """Negative sampling keeps every positive whatever its hash."""
        return self.sampler.kind == "negatives" and self.sampler.rate < 1.0

    def __call__(
        self, window: int, example_ids: npt.NDArray[np.int64], labels: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.bool_]:
        return self.sampler.needed(example_ids, labels, self.eval_rate(window))
