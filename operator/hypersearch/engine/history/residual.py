"""A residual model learned from earlier searches, with a ranking-aware weighting and a guard.

full-data target ≈ stage-1 target + g(stage-1 target, hyperparameters), g linear (ridge), fitted
on the earlier searches' rows whose full-data target is known. Two things make it a ranking model
rather than a regression:

- **Each search is centred on its own means.** A drifting stream moves every configuration's
  loss from one horizon to the next, so only differences within a search teach anything; the
  intercept of every search is left out (and is irrelevant to a ranking).
- **Ranking-aware weighting** (as RGPE, arXiv 1802.02219, weighs surrogates by ranking loss):
  rows near the top of their search's full-data ranking weigh most, ``exp(-rank / (top · n))``,
  since only the top k goes to stage 2.

- **Only as deep as history saw.** The correction is applied to the best ``depth`` rows of the
  new stage-1 ranking, ``depth`` the deepest stage-1 rank at which an earlier search knew a
  full-data target (3 for earlier searches that trained their top 3 in full); the rest keep the
  plain order behind them. The fit has only seen rows near the top of their stage-1 ranking:
  applied to a poor configuration it extrapolates, and on the 181-day flights-3m ground truth
  (earlier searches that knew their top 3) it sent configurations 100-250% worse than the best
  to stage 2.

The guard (``guard="forward"``, the default): forward in time, each earlier search is predicted
by a fit on the searches that ended before it, and the pairwise ranking loss (misordered pairs,
each weighted by the heavier of its two rows) of the corrected ranking is compared with the plain
stage-1 ranking on it. Bootstrapping gives the share ``p`` of resamples in which the correction
misorders less; the correction is applied with weight ``2p - 1`` (none at ``p <= 1/2``: history
disagrees, the plain ranking is kept), and not at all with too few rows or a single earlier
search. ``guard="configurations"`` (leave one configuration out) and ``"off"`` are kept for
measuring the guard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hypersearch.engine.history.base import HistoryPolicy, HistoryRanking, Search, finish


@dataclass(frozen=True)
class _Rows:
    """The earlier searches' usable rows, stacked."""

    x: np.ndarray  # [n, 1 + d]: centred stage-1 target, centred features
    residual: np.ndarray  # centred full - stage1
    weight: np.ndarray
    search: np.ndarray  # which search each row came from
    group: np.ndarray  # which configuration
    stage1: np.ndarray
    full: np.ndarray


def _best(stage1: np.ndarray, depth: int) -> np.ndarray:
    """A mask of the ``depth`` best finite stage-1 rows (ties by row order)."""
    ok = np.flatnonzero(np.isfinite(stage1))
    order = ok[np.lexsort((ok, stage1[ok]))]
    mask = np.zeros(stage1.size, dtype=bool)
    mask[order[:depth]] = True
    return mask


class ResidualPolicy(HistoryPolicy):
    """``ridge``: the penalty on the standardized coefficients, per unit of total weight;
    ``top``: the ranking-aware weighting's scale (share of a search's rows); ``bootstrap``: the
    guard's resamples; ``min_rows``: fewer known earlier rows than this and history is not used;
    ``seed``: the guard's resampling (deterministic); ``guard="off"`` always applies the
    correction in full (for measuring what the guard does)."""

    name = "residual"

    def __init__(
        self,
        ridge: float = 0.3,
        top: float = 0.25,
        bootstrap: int = 200,
        min_rows: int = 6,
        seed: int = 0,
        guard: str = "forward",
    ) -> None:
        if guard not in ("forward", "configurations", "off"):
            raise ValueError(f"guard must be forward, configurations or off, not {guard!r}")
        if ridge <= 0 or top <= 0 or bootstrap < 1 or min_rows < 2:
            raise ValueError("ridge and top must be > 0, bootstrap >= 1, min_rows >= 2")
        self.ridge = ridge
        self.top = top
        self.bootstrap = bootstrap
        self.min_rows = min_rows
        self.seed = seed
        self.guard = guard

    def rank(
        self, history: Sequence[Search], features: np.ndarray, stage1: np.ndarray
    ) -> HistoryRanking:
        stage1 = np.asarray(stage1, dtype=float)
        rows = self._rows(sorted(history, key=lambda s: s.horizon))
        if rows is None or rows.x.shape[0] < self.min_rows:
            n = 0 if rows is None else rows.x.shape[0]
            return finish(stage1, 0.0, f"too little history ({n} rows with a full-data target)")
        p = 1.0 if self.guard == "off" else self._guard(rows)
        weight = max(0.0, 2.0 * p - 1.0)
        if weight <= 0.0:
            return finish(
                stage1, 0.0, f"history disagrees (correction better in {p:.0%} of resamples)"
            )
        beta, scale = self._fit(rows.x, rows.residual, rows.weight)
        depth = self._depth(history)
        eligible = _best(stage1, depth)
        x = self._design(stage1, np.asarray(features, dtype=float), eligible)
        scores = stage1.copy()
        scores[eligible] = stage1[eligible] + weight * ((x[eligible] / scale) @ beta)
        rest = np.isfinite(stage1) & ~eligible
        if rest.any() and eligible.any():
            # Below the depth the plain order, kept behind every corrected row (one shift).
            scores[rest] += max(0.0, scores[eligible].max() - stage1[rest].min()) + 1e-9
        return finish(
            scores,
            weight,
            f"correction applied with weight {weight:.2f} (better in {p:.0%} of resamples) "
            f"to the best {int(eligible.sum())} by stage 1",
        )

    @staticmethod
    def _depth(history: Sequence[Search]) -> int:
        """How deep into a stage-1 ranking the earlier searches knew full-data targets: the
        largest stage-1 rank (1-based) of a row with a full-data target. Only that part of a
        new ranking is like what the correction was fitted on; below it, it extrapolates."""
        depth = 0
        for s in history:
            ok = np.isfinite(s.stage1)
            ranks = np.full(s.size, -1)
            ranks[ok] = np.argsort(np.argsort(s.stage1[ok], kind="stable"), kind="stable")
            known = s.known()
            if known.any():
                depth = max(depth, int(ranks[known].max()) + 1)
        return depth

    # -- fitting ------------------------------------------------------------------------------

    @staticmethod
    def _design(stage1: np.ndarray, features: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Stage-1 target and features, centred on the mean of ``rows`` (one search)."""
        x = np.column_stack([stage1, features.reshape(len(stage1), -1)])
        centre = x[rows].mean(axis=0) if rows.any() else np.zeros(x.shape[1])
        out: np.ndarray = x - centre
        return out

    def _rows(self, history: Sequence[Search]) -> _Rows | None:
        parts = []
        for s_index, s in enumerate(history):
            known = s.known()
            if known.sum() < 2:
                continue  # one row cannot say anything about an order
            x = self._design(s.stage1, np.asarray(s.features, dtype=float), known)[known]
            residual = (s.full - s.stage1)[known]
            residual = residual - residual.mean()
            ranks = np.argsort(np.argsort(s.full[known], kind="stable"), kind="stable")
            weight = np.exp(-ranks / (self.top * known.sum()))
            weight = weight / weight.mean()
            parts.append(
                (
                    x,
                    residual,
                    weight,
                    np.full(known.sum(), s_index),
                    s.group_ids()[known],
                    s.stage1[known],
                    s.full[known],
                )
            )
        if not parts:
            return None
        cols = list(zip(*parts, strict=True))
        return _Rows(*(np.concatenate(c) for c in cols))

    def _fit(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weighted ridge on standardized columns; returns the coefficients and the scales."""
        mean = np.average(x, axis=0, weights=w)
        scale = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w))
        scale = np.where(scale > 1e-12, scale, np.inf)  # a constant column gets no coefficient
        z = x / scale
        a = z.T @ (w[:, None] * z) + self.ridge * w.sum() * np.eye(z.shape[1])
        beta = np.linalg.solve(a, z.T @ (w * y))
        return beta, scale

    def _guard(self, rows: _Rows) -> float:
        """Share of bootstrap resamples (of configurations) in which the held-out correction
        (:meth:`_held_out`) misorders less (pairwise, ranking-weighted) than the plain ranking;
        0 when nothing can be checked."""
        groups = np.unique(rows.group)
        held_out = self._held_out(rows)
        if groups.size < 2 or held_out is None:
            return 0.0
        checked, loo = held_out
        plain = np.zeros(groups.size)
        corrected = np.zeros(groups.size)
        index = {g: k for k, g in enumerate(groups)}
        for s in np.unique(rows.search[checked]):
            r = np.flatnonzero((rows.search == s) & checked)
            truth = rows.full[r]
            pair_w = np.maximum.outer(rows.weight[r], rows.weight[r])
            better = truth[:, None] < truth[None, :]
            for score, out in ((rows.stage1[r], plain), (rows.stage1[r] + loo[r], corrected)):
                wrong = better & (score[:, None] >= score[None, :])
                loss = (pair_w * wrong).sum(axis=1) + (pair_w * wrong).sum(axis=0)
                for k, row in enumerate(r):
                    out[index[rows.group[row]]] += loss[k] / 2.0
        rng = np.random.default_rng(self.seed)
        draws = rng.integers(0, groups.size, size=(self.bootstrap, groups.size))
        diff = (plain - corrected)[draws].sum(axis=1)
        return float(np.mean(diff > 0))

    def _held_out(self, rows: _Rows) -> tuple[np.ndarray, np.ndarray] | None:
        """Each checked row's correction by a fit that has not seen it: fitted on the earlier
        searches only (``forward``: the next search is judged as the new one will be; the first
        is not checked) or on the other configurations (``configurations``). None: nothing to
        check (a single earlier search, forward)."""
        correction = np.zeros_like(rows.residual)
        checked = np.zeros(rows.residual.size, dtype=bool)
        if self.guard == "configurations":
            for g in np.unique(rows.group):
                held = rows.group == g
                beta, scale = self._fit(rows.x[~held], rows.residual[~held], rows.weight[~held])
                correction[held] = (rows.x[held] / scale) @ beta
            return np.ones_like(checked), correction
        searches = np.unique(rows.search)
        for s in searches[1:]:
            seen, held = rows.search < s, rows.search == s
            if seen.sum() < 2:
                continue
            beta, scale = self._fit(rows.x[seen], rows.residual[seen], rows.weight[seen])
            correction[held] = (rows.x[held] / scale) @ beta
            checked |= held
        return (checked, correction) if checked.any() else None
