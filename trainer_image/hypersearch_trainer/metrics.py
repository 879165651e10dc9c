"""Windowed evaluation metrics (logloss, AUC), overall and per stratum.

Progressive validation scores every example of a window with the model as it was before the
window; ``WindowResult`` is that window's exact result, the unit every trial is compared on.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def auc(scores: npt.NDArray[Any], labels: npt.NDArray[Any]) -> float | None:
    """ROC AUC via the Mann–Whitney U statistic (ties count one half); None if one class."""
    pos = labels > 0.5
    n_pos = int(pos.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = average_ranks(scores)
    u = float(ranks[pos].sum()) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def average_ranks(x: npt.NDArray[Any]) -> F64:
    """1-based ranks, ties sharing their average rank (like scipy's rankdata, without scipy's
    import cost at startup)."""
    order = np.argsort(x)  # any sort works: ties are grouped below, not ordered
    xs = x[order]
    n = len(x)
    starts = np.concatenate(([True], xs[1:] != xs[:-1]))
    group = np.cumsum(starts) - 1
    first = np.nonzero(starts)[0]
    last = np.concatenate((first[1:], [n])) - 1
    avg = (first + last) / 2.0 + 1.0
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = avg[group]
    return ranks


def weighted_logloss(losses: npt.NDArray[Any], weights: npt.NDArray[Any] | None = None) -> float:
    """Weighted mean of per-example log losses: sum(w*l)/sum(w)."""
    if weights is None:
        return float(np.mean(losses)) if len(losses) else math.nan
    return float(np.sum(weights * losses) / np.sum(weights))


@dataclass
class StratumResult:
    """Metrics of one stratum within a window."""

    examples: int
    loss_sum: float
    logloss: float
    auc: float | None


@dataclass
class WindowResult:
    """Exact progressive-validation result of one window (and what was trained on it)."""

    window: int
    label: str
    examples: int
    positives: int
    loss_sum: float
    logloss: float | None
    auc: float | None
    mean_prediction: float | None = None
    strata: dict[str, StratumResult] = field(default_factory=dict)
    trained: int = 0
    train_loss: float | None = None
    # compute of the run up to the end of this window (cumulative), see compute.py
    cpu_seconds: float | None = None
    gpu_seconds: float | None = None
    eval_cpu_seconds: float | None = (
        None  # CPU of the scoring thread on this window (not cumulative)
    )
    # a fully scored window: [loss sum, examples] of the nested evaluation sample at each rate
    eval_sample: dict[str, list[float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (NaN never appears: missing metrics are null)."""
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> WindowResult:
        """Inverse of ``as_dict``."""
        d = dict(d)
        d["strata"] = {k: StratumResult(**v) for k, v in d.get("strata", {}).items()}
        return WindowResult(**d)


def score_window(
    window: int,
    label: str,
    logits: npt.NDArray[np.float32],
    losses: npt.NDArray[np.float64],
    labels: npt.NDArray[np.float32],
    strata: npt.NDArray[np.str_] | None,
) -> WindowResult:
    """Aggregate per-example scores of a whole window into its metrics."""
    n = len(labels)
    res = WindowResult(
        window=window,
        label=label,
        examples=n,
        positives=int((labels > 0.5).sum()),
        loss_sum=float(losses.sum()),
        logloss=float(losses.mean()) if n else None,
        auc=auc(logits, labels) if n else None,
        mean_prediction=float(np.mean(1.0 / (1.0 + np.exp(-logits.astype(np.float64)))))
        if n
        else None,
    )
    if strata is not None and n:
        names, codes = np.unique(strata, return_inverse=True)  # compare ints, not strings
        for k, s in enumerate(names.tolist()):
            m = codes == k
            res.strata[str(s)] = StratumResult(
                examples=int(m.sum()),
                loss_sum=float(losses[m].sum()),
                logloss=float(losses[m].mean()),
                auc=auc(logits[m], labels[m]),
            )
    return res


def target_summary(history: list[WindowResult], k: int, num_windows: int) -> dict[str, Any]:
    """Mean per-window metrics over the last ``k`` windows processed (the target window W).

    A window of them without an example to score is missing data: it is left out of the means
    (and listed in ``empty``), never replaced by an earlier window, so the target covers the
    same windows as the engine's (docs/design.md §4)."""
    last = history[-k:] if k > 0 else []
    scored = [r for r in last if r.examples > 0]
    lls = [r.logloss for r in scored if r.logloss is not None]
    aucs = [r.auc for r in scored if r.auc is not None]
    return {
        "eval_windows": k,
        "windows": [r.window for r in scored],
        "empty": [r.window for r in last if r.examples == 0],
        "covers_stream_end": bool(last) and last[-1].window == num_windows - 1,
        "logloss": float(np.mean(lls)) if lls else None,
        "auc": float(np.mean(aucs)) if aucs else None,
        "examples": int(sum(r.examples for r in scored)),
    }
