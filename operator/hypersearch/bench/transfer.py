"""Issue 16, lead 1: does rate-aware transfer make a low-rate ranking agree with full data?

For the benchmark's first ``--configs`` configurations (:func:`configurations`), each sampling
rate's ranking (mean logloss of the last ``--eval-windows`` windows of a run over the whole
horizon at that rate) is compared with the full-data ranking by Kendall tau, once with the
sampled params and once per transfer variant (the params a stage-1 run at that rate would
receive, :class:`RateAwareTransfer`). Every run is a real reference-trainer process, cached by
:class:`GroundTruth` (the untransformed runs are the search-quality benchmark's own cache).

    python -m hypersearch.bench.transfer --dataset flights-3m --configs 16 --stop 28 \\
        --rates 0.01,0.1
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from hypersearch.bench.groundtruth import SPACE, GroundTruth, Trajectory, configurations
from hypersearch.engine.transfer import RateAwareTransfer, Transfer

VARIANTS: dict[str, Transfer] = {
    # Same updates per window (batch x s): every per-update timescale kept as it is.
    "batch": RateAwareTransfer(batch_exponent=1.0, lr_exponent=0.0),
    # Batch x s with Adam's square-root rule (lr x s^1/2: same gradient-noise temperature).
    "batch+sqrt-lr": RateAwareTransfer(batch_exponent=1.0, lr_exponent=0.5),
    # Fixed batch (s x the updates), LMS tracking lr x s^-1/2, weight decay per window kept.
    "lr": RateAwareTransfer(batch_exponent=0.0, lr_exponent=-0.5),
}


def transfer_ground_truth(
    dataset: str,
    configs: list[dict[str, Any]],
    rate: float,
    variant: str,
    stop: int | None,
    eval_windows: int = 7,
) -> GroundTruth:
    """The runs of ``configs`` at ``rate`` trained with ``variant``'s transformed params, cached
    like any ground truth (keyed by the transformed configurations, so this benchmark and the
    search-quality replay with ``--transfers`` share them). Index i is configuration i."""
    applied = [VARIANTS[variant].apply(c, SPACE, rate).params for c in configs]
    return GroundTruth(dataset, applied, (rate,), stop=stop, eval_windows=eval_windows)


def _targets(gt: GroundTruth, rate: float, windows: int, eval_windows: int) -> np.ndarray:
    out = []
    for i in range(len(gt.configs)):
        tr: Trajectory = gt.load(i, rate, windows)
        value = tr.target(eval_windows)
        out.append(value if math.isfinite(value) else np.inf)  # diverged: as bad as it gets
    return np.array(out)


def _tau(a: np.ndarray, b: np.ndarray) -> float:
    big = np.nanmax(np.where(np.isfinite(np.r_[a, b]), np.r_[a, b], np.nan)) + 1.0
    return float(
        kendalltau(np.where(np.isfinite(a), a, big), np.where(np.isfinite(b), b, big)).statistic
    )


def _regret(scores: np.ndarray, truth: np.ndarray, k: int) -> float:
    top = np.argsort(scores, kind="stable")[:k]
    return float(100.0 * (truth[top].min() - truth.min()) / truth.min())


def _delta_interval(
    scores: np.ndarray, plain: np.ndarray, truth: np.ndarray, repeats: int = 2000
) -> tuple[float, float]:
    """95% bootstrap interval (configurations resampled) of tau(scores) - tau(plain)."""
    rng = np.random.default_rng(0)
    deltas = []
    for _ in range(repeats):
        idx = rng.integers(0, truth.size, truth.size)
        d = _tau(scores[idx], truth[idx]) - _tau(plain[idx], truth[idx])
        if math.isfinite(d):
            deltas.append(d)
    lo, hi = np.percentile(deltas, [2.5, 97.5])
    return round(float(lo), 3), round(float(hi), 3)


def measure(
    dataset: str,
    n: int,
    rates: list[float],
    stop: int | None,
    eval_windows: int,
    workers: int,
    variants: list[str] | None = None,
) -> dict[str, Any]:
    configs = configurations(n)
    base = GroundTruth(dataset, configs, (*rates, 1.0), stop=stop, eval_windows=eval_windows)
    base.build(workers=workers)
    windows = base.load(0, 1.0, 0).windows
    truth = _targets(base, 1.0, windows, eval_windows)
    rows: list[dict[str, Any]] = []
    for rate in rates:
        plain = _targets(base, rate, windows, eval_windows)
        rows.append(_row("none", rate, plain, truth, base, rate, windows, [0] * n))
        for name, policy in VARIANTS.items():
            if variants is not None and name not in variants:
                continue
            applied = [policy.apply(c, SPACE, rate) for c in configs]
            gt = transfer_ground_truth(dataset, configs, rate, name, stop, eval_windows)
            gt.build(workers=workers)
            scores = _targets(gt, rate, windows, eval_windows)
            row = _row(
                name, rate, scores, truth, gt, rate, windows, [len(a.clipped) for a in applied]
            )
            row["tauDelta95"] = _delta_interval(scores, plain, truth)
            rows.append(row)
    return {
        "dataset": dataset,
        "configs": n,
        "stop": stop,
        "evalWindows": eval_windows,
        "truthBest": int(np.argmin(truth)),
        "rows": rows,
    }


def _row(
    name: str,
    rate: float,
    scores: np.ndarray,
    truth: np.ndarray,
    gt: GroundTruth,
    run_rate: float,
    windows: int,
    clipped: list[int],
) -> dict[str, Any]:
    cpu = sum(gt.load(i, run_rate, windows).cpu_total for i in range(len(gt.configs)))
    best = int(np.argmin(truth))
    return {
        "transfer": name,
        "rate": rate,
        "tau": round(_tau(scores, truth), 3),
        "bestRank": int(np.argsort(np.argsort(scores, kind="stable"))[best]) + 1,
        "regret1": round(_regret(scores, truth, 1), 3),
        "regret3": round(_regret(scores, truth, 3), 3),
        "diverged": int((~np.isfinite(scores)).sum()),
        "clippedConfigs": int(sum(c > 0 for c in clipped)),
        "cpuSeconds": round(cpu, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="flights-3m")
    ap.add_argument("--configs", type=int, default=16)
    ap.add_argument("--rates", default="0.01,0.1")
    ap.add_argument("--stop", type=int, default=None, help="last window (default: the stream)")
    ap.add_argument("--eval-windows", type=int, default=7)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    args = ap.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    variants = args.variants.split(",")
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        ap.error(f"unknown variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    out = measure(
        args.dataset, args.configs, rates, args.stop, args.eval_windows, args.workers, variants
    )
    print(json.dumps(out, indent=1))
    print(f"{'transfer':<14} {'rate':>5} {'tau':>6} {'best@':>5} {'r@1%':>6} {'r@3%':>6} "
          f"{'div':>3} {'clip':>4} {'cpu s':>6}  tau - none (95%)", file=sys.stderr)  # fmt: skip
    for r in out["rows"]:
        print(
            f"{r['transfer']:<14} {r['rate']:>5g} {r['tau']:>6.3f} {r['bestRank']:>5} "
            f"{r['regret1']:>6.2f} {r['regret3']:>6.2f} {r['diverged']:>3} "
            f"{r['clippedConfigs']:>4} {r['cpuSeconds']:>6.1f}  {r.get('tauDelta95', '')}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
