"""Issue 16, lead 3 in detail: the history methods against two-step at the same rate, paired.

The search-quality benchmark (``hypersearch bench search-quality``) puts ``history s=…`` beside
every other method. This report adds what that table cannot show: regret@3 of each history
variant minus two-step's at the same rate on the same subsets (95% interval), how much of the
learned correction the guard let through (mean weight, share of searches that used any), the
same without the guard and with the leave-one-configuration-out guard, and the noise floor
(configurations within 0.1% of the best). Same ground truth, subsets and seeds as the benchmark
run with the same arguments.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import numpy as np

from hypersearch.bench import methods as m
from hypersearch.bench.groundtruth import FULL_RATE, GroundTruth, configurations
from hypersearch.bench.search_quality import STAGE2_K, Row, draw_subsets, load_runs, regret

VARIANTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("stage 2 known", {"known": "stage2"}),
    ("earlier full searches", {"known": "all"}),
    ("earlier full searches, no guard", {"known": "all", "guard": "off"}),
    ("earlier full searches, configuration guard", {"known": "all", "guard": "configurations"}),
    ("earlier full searches, daily", {"known": "all", "every": 1}),
)


def subsets(configs: int, size: int, repeats: int, seed: int) -> list[list[int]]:
    """The benchmark's subsets (``search_quality.evaluate`` draws the same)."""
    return [subset for subset, _ in draw_subsets(configs, size, repeats, seed)]


def regret_of(runs: m.Runs, ranking: Sequence[int], subset: Sequence[int], k: int) -> float:
    return regret({c: runs.target(c) for c in subset}, ranking, k)


def noise_floor(runs: m.Runs, configs: Sequence[int], within: float = 0.1) -> int:
    """Configurations whose full-data target is within ``within`` % of the best."""
    truth = np.array([runs.target(c) for c in configs])
    return int((truth <= truth.min() * (1 + within / 100.0)).sum())


def report(runs: m.Runs, rates: Sequence[float], groups: list[list[int]]) -> str:
    configs = sorted({c for (c, r) in runs.runs if r == FULL_RATE})
    floors = [noise_floor(runs, s) for s in groups]
    lines = [
        f"Noise floor: {noise_floor(runs, configs)} of {len(configs)} configurations within 0.1% "
        f"of the best (per subset: mean {np.mean(floors):.1f}, max {max(floors)}).",
        "",
        "| rate | history variant | regret@3 % | two-step regret@3 % | Δ regret@3 (95%) | "
        "correction weight | searches using it |",
        "|---|---|---|---|---|---|---|",
    ]
    for rate in rates:
        two = [
            regret_of(
                runs, m.two_step(rate)(runs, s, np.random.default_rng(0)).ranking, s, STAGE2_K
            )
            for s in groups
        ]
        for name, settings in VARIANTS:
            weights: list[float] = []
            method = m.history(rate, weights=weights, **settings)
            ours = [
                regret_of(runs, method(runs, s, np.random.default_rng(0)).ranking, s, STAGE2_K)
                for s in groups
            ]
            diff = Row.stat([a - b for a, b in zip(ours, two, strict=True)])
            lines.append(
                f"| {rate:g} | {name} | {Row.stat(ours)[0]:.3f} ± {Row.stat(ours)[1]:.3f} | "
                f"{Row.stat(two)[0]:.3f} | {diff[0]:+.3f} ± {diff[1]:.3f} | "
                f"{np.mean(weights):.2f} | {np.mean(np.array(weights) > 0):.0%} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hypersearch.bench.history", description=__doc__
    )
    parser.add_argument("--dataset", default="flights-3m")
    parser.add_argument("--configs", type=int, default=16)
    parser.add_argument("--rates", default="0.01,0.03,0.1")
    parser.add_argument("--subset", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--stop", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rates = tuple(float(r) for r in args.rates.split(","))
    gt = GroundTruth(
        args.dataset, configurations(args.configs), (FULL_RATE, *rates), stop=args.stop
    )
    if gt.missing():
        raise SystemExit(
            f"{len(gt.missing())} runs missing in {gt.directory}: run "
            "`hypersearch bench search-quality` with the same arguments first"
        )
    runs = load_runs(gt)
    groups = subsets(args.configs, args.subset, args.repeats, args.seed)
    print(f"{args.dataset}: {runs.windows} windows, ground truth {gt.directory.name}")
    print(report(runs, rates, groups))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
