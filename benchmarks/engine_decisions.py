"""Engine decision cost: milliseconds per decision round with 1,000 active trials.

CPU time of this process (not wall time, so other load on the machine counts less).
Every trial has 200 observed windows; in each timed round every trial reports one more window
and crosses a rung (the worst case: every trial is judged every round). Each method is timed in
the same run, and shown as a ratio to the ``none`` rule (pure bookkeeping, no decisions).

    python benchmarks/engine_decisions.py [--trials 1000] [--windows 200] [--rounds 10]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from hypersearch.engine import Search, StartTrial, TrialReport, WindowStat
from hypersearch.spec import parse

METHODS = [
    ("none", "constant"),
    ("asha", "constant"),
    ("median", "constant"),
    ("performance", "constant"),
    ("performance", "trajectory"),
]


def make_search(rule: str, predictor: str, trials: int, windows: int, rounds: int) -> Search:
    total = windows + rounds + 1
    doc = {
        "apiVersion": "hypersearch.dev/v1alpha1",
        "kind": "HyperSearch",
        "metadata": {"name": "bench"},
        "spec": {
            "stream": {"windows": total},
            "parameters": [
                {"name": "lr", "type": "double", "min": 1e-4, "max": 1.0, "scale": "log"}
            ],
            "trials": trials,
            "parallelism": trials,
            "stage2": {"topK": 3},
            "stage1": {
                "data": {"rate": 0.1},
                "stopping": {
                    "rule": rule,
                    # A rung at every timed window; eta close to 1 so nearly nobody is stopped
                    # and the cohort stays at full size.
                    "rungs": [float(windows + 1 + r) for r in range(rounds)],
                    "eta": 1.01,
                },
                "predictor": {"name": predictor},
            },
            "trialTemplate": {"spec": {"containers": [{"name": "t", "command": ["true"]}]}},
        },
    }
    return Search(parse(doc))


def run(rule: str, predictor: str, trials: int, windows: int, rounds: int) -> list[float]:
    search = make_search(rule, predictor, trials, windows, rounds)
    ids = [a.trial for a in search.step() if isinstance(a, StartTrial)]
    rng = np.random.default_rng(0)
    quality = rng.normal(0, 0.01, len(ids))
    drift = 0.45 + 0.02 * np.sin(np.arange(windows + rounds + 1) / 5)
    noise = rng.normal(0, 0.002, (len(ids), windows + rounds + 1))
    values = drift[None, :] + quality[:, None] + noise
    # Fill 200 windows per trial (not timed; observations arrive below the first rung).
    search.observe_all(
        {
            t: TrialReport(
                float(windows),
                windows * 100.0,
                {w: WindowStat(float(values[t, w]), 1.0) for w in range(windows)},
            )
            for t in ids
        }
    )
    times = []
    for r in range(rounds):
        w = windows + r
        reports = {
            t: TrialReport(w + 1.0, (w + 1) * 100.0, {w: WindowStat(float(values[t, w]), 1.0)})
            for t in ids
        }
        start = time.process_time()
        search.observe_all(reports)
        times.append((time.process_time() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--windows", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    results = {m: run(*m, args.trials, args.windows, args.rounds) for m in METHODS}
    baseline = statistics.median(results[METHODS[0]])
    print(f"{args.trials} active trials, {args.windows} windows observed, {args.rounds} rounds")
    print(f"{'method':28} {'ms/round (median)':>18} {'max':>8} {'vs none':>8}")
    for (rule, predictor), times in results.items():
        med = statistics.median(times)
        print(f"{rule + ' + ' + predictor:28} {med:18.1f} {max(times):8.1f} {med / baseline:7.2f}x")


if __name__ == "__main__":
    main()
