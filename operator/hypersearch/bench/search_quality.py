"""Search quality: total cost against regret@k on real drifting data, all methods side by side.

Definitions (DESIGN section 4): cost is training examples over both stages, stage 2 being full
training of the method's top 3; cost reduction is a full search's cost divided by that, measured
in the same run. regret@k is the best true target among a method's top k minus the best of all,
relative to the best, in %. Kendall tau compares the scores a method ranked by with the truth.
Every figure is a mean over resampled configuration subsets, with a 95% interval.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from scipy.stats import kendalltau

from hypersearch.bench import methods as m
from hypersearch.bench.groundtruth import FULL_RATE, GroundTruth, configurations

STAGE2_K = 3
KS = (1, 3, 5)


def method_table(rates: Sequence[float], windows: int) -> dict[str, m.Method]:
    """Every method of the benchmark, by name. ``rates`` are the cached sub-sampling rates."""
    low, mid = rates[0], rates[min(1, len(rates) - 1)]
    prefix = [max(m.COMPARE_WINDOWS + 1, windows // d) for d in (8, 4, 2)]
    table: dict[str, m.Method] = {"full search": m.full_search, "random-k": m.random_k}
    for r in rates:
        table[f"two-step s={r:g}"] = m.two_step(r)
    for p in prefix:
        table[f"prefix t={p}"] = m.engine(stop=p)
        table[f"prefix t={p} + trajectory"] = m.engine(stop=p, predictor="trajectory")
    for r in rates:
        for pred in ("constant", "trajectory", "stratified"):
            table[f"subsample s={r:g} + {pred}"] = m.engine(rate=r, predictor=pred)
        table[f"performance s={r:g} + constant"] = m.engine(rate=r, rule="performance")
        table[f"performance s={r:g} + trajectory"] = m.engine(
            rate=r, rule="performance", predictor="trajectory"
        )
    table[f"rate-halving {'/'.join(f'{r:g}' for r in rates)}"] = m.rate_halving(rates)
    table["performance (full data) + constant"] = m.engine(rule="performance")
    table["asha (full data)"] = m.engine(rule="asha")
    table["median stopping (full data)"] = m.engine(rule="median")
    table["hyperband (full data)"] = m.hyperband()
    table[f"asha s={low:g}"] = m.engine(rate=low, rule="asha")
    table[f"hyperband s={mid:g}"] = m.hyperband(rate=mid)
    w = m.COMPARE_WINDOWS
    table["optuna MedianPruner"] = m.optuna_pruner(
        lambda t: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=w)
    )
    table["optuna SuccessiveHalvingPruner"] = m.optuna_pruner(
        lambda t: optuna.pruners.SuccessiveHalvingPruner(min_resource=w, reduction_factor=3)
    )
    table["optuna HyperbandPruner"] = m.optuna_pruner(
        lambda t: optuna.pruners.HyperbandPruner(min_resource=w, max_resource=t, reduction_factor=3)
    )
    table["optuna WilcoxonPruner"] = m.optuna_pruner(
        lambda t: optuna.pruners.WilcoxonPruner(p_threshold=0.1, n_startup_steps=w)
    )
    return table


OURS = ("prefix", "subsample", "performance", "rate-halving")
PEERS = ("two-step", "asha", "median", "hyperband", "optuna", "random-k")


def is_ours(name: str) -> bool:
    return name.startswith(OURS)


@dataclass
class Row:
    name: str
    reduction: list[float]
    regret: dict[int, list[float]]
    tau: list[float]

    @staticmethod
    def stat(values: Sequence[float]) -> tuple[float, float]:
        a = np.array([v for v in values if math.isfinite(v)])
        if not a.size:
            return float("nan"), float("nan")
        half = 1.96 * float(a.std(ddof=1)) / math.sqrt(a.size) if a.size > 1 else 0.0
        return float(a.mean()), half

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.name}
        out["reduction"], out["reduction_ci"] = self.stat(self.reduction)
        for k, values in self.regret.items():
            out[f"regret@{k}"], out[f"regret@{k}_ci"] = self.stat(values)
        out["tau"], out["tau_ci"] = self.stat(self.tau)
        return out


def evaluate(
    runs: m.Runs, configs: int, subset_size: int, repeats: int, seed: int, only: str | None
) -> list[Row]:
    table = method_table(sorted({r for (_, r) in runs.runs if r < FULL_RATE}), runs.windows)
    if only:
        table = {k: v for k, v in table.items() if only in k or k == "full search"}
    rows = {name: Row(name, [], {k: [] for k in KS}, []) for name in table}
    rng = np.random.default_rng(seed)
    for _ in range(repeats):
        subset = sorted(int(c) for c in rng.choice(configs, size=subset_size, replace=False))
        truth = {c: runs.target(c) for c in subset}
        best = min(truth.values())
        full_cost = sum(runs.full_cost(c) for c in subset)
        method_seed = int(rng.integers(1 << 31))
        for name, method in table.items():
            out = method(runs, subset, np.random.default_rng(method_seed))
            top_k = out.ranking[:STAGE2_K]
            stage2 = sum(runs.full_cost(c) for c in top_k if c not in out.complete)
            rows[name].reduction.append(full_cost / (out.stage1 + stage2))
            for k in KS:
                top = min(truth[c] for c in out.ranking[:k])
                rows[name].regret[k].append(100.0 * (top - best) / best)
            scored = [c for c in subset if c in out.scores]
            tau = (
                kendalltau([out.scores[c] for c in scored], [truth[c] for c in scored]).statistic
                if len(scored) >= 3
                else float("nan")
            )
            rows[name].tau.append(float(tau))
    return list(rows.values())


def fmt(mean: float, half: float, digits: int = 2) -> str:
    if not math.isfinite(mean):
        return "–"
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


def render(rows: list[Row], header: str) -> str:
    lines = [
        header,
        "",
        "| method | cost reduction (×) | regret@1 % | regret@3 % | regret@5 % | Kendall τ |",
        "|---|---|---|---|---|---|",
    ]
    summaries = sorted((r.summary() for r in rows), key=lambda s: -s["reduction"])
    for s in summaries:
        mark = "**" if is_ours(s["method"]) else ""
        lines.append(
            f"| {mark}{s['method']}{mark} | {fmt(s['reduction'], s['reduction_ci'], 1)} | "
            + " | ".join(fmt(s[f"regret@{k}"], s[f"regret@{k}_ci"], 3) for k in KS)
            + f" | {fmt(s['tau'], s['tau_ci'])} |"
        )
    lines += ["", verdict(summaries)]
    return "\n".join(lines)


def verdict(summaries: list[dict[str, Any]], target: float = 0.1) -> str:
    """The headline: the cheapest method of ours and of the peers with mean regret@3 <= target."""

    def best(group: list[dict[str, Any]]) -> dict[str, Any] | None:
        ok = [s for s in group if s["regret@3"] <= target and s["method"] != "full search"]
        return max(ok, key=lambda s: s["reduction"]) if ok else None

    ours = best([s for s in summaries if is_ours(s["method"])])
    peers = best([s for s in summaries if not is_ours(s["method"])])
    parts = []
    parts.append(
        f"ours: {ours['method']} at {ours['reduction']:.1f}× less cost than a full search"
        if ours
        else "ours: no method reaches it"
    )
    parts.append(
        f"best peer: {peers['method']} at {peers['reduction']:.1f}×"
        if peers
        else "best peer: none reaches it"
    )
    if ours and peers:
        parts.append(f"ours vs. best peer: {ours['reduction'] / peers['reduction']:.2f}× cheaper")
    return f"At mean regret@3 ≤ {target}%: " + "; ".join(parts) + "."


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6))
    for r in rows:
        s = r.summary()
        if not math.isfinite(s["regret@3"]):
            continue
        ours = is_ours(r.name)
        ax.scatter(
            s["reduction"], s["regret@3"], marker="o" if ours else "x", color="C0" if ours else "C3"
        )
        ax.annotate(r.name, (s["reduction"], s["regret@3"]), fontsize=6, alpha=0.8)
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set_ylim(bottom=0.0)
    ax.axhline(0.1, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("total cost reduction vs. full search (×, log)")
    ax.set_ylabel("regret@3 (% of best logloss, symlog)")
    ax.set_title("Search quality on a drifting stream (ours: blue circles, peers: red crosses)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def load_runs(gt: GroundTruth) -> m.Runs:
    docs = [json.loads(gt.path(i, FULL_RATE).read_text()) for i in range(len(gt.configs))]
    windows = max(len(d["windows"]) for d in docs)
    runs = {(i, r): gt.load(i, r, windows) for i in range(len(gt.configs)) for r in gt.rates}
    return m.Runs(runs, gt.eval_windows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hypersearch bench search-quality", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="flights-3m", help="bundled name or dataset YAML")
    parser.add_argument("--configs", type=int, default=64)
    parser.add_argument("--rates", default="0.01,0.03,0.1", help="stage-1 sub-sampling rates")
    parser.add_argument("--subset", type=int, default=48, help="configurations per resample")
    parser.add_argument("--repeats", type=int, default=20, help="resampled subsets")
    parser.add_argument("--stop", type=int, default=None, help="use only windows [0, stop)")
    parser.add_argument("--workers", type=int, default=2, help="trainer processes for ground truth")
    parser.add_argument("--only", default=None, help="run only methods whose name contains this")
    parser.add_argument("--quick", action="store_true", help="minute-scale run (CI)")
    parser.add_argument("--out", type=Path, default=None, help="write table, JSON and plot here")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    if args.quick:
        args.configs, args.subset, args.repeats = 8, 6, 3
        args.stop = args.stop or 28
        args.rates = "0.05"
    rates = tuple(float(r) for r in args.rates.split(","))
    gt = GroundTruth(
        args.dataset, configurations(args.configs), (FULL_RATE, *rates), stop=args.stop
    )
    missing = gt.missing()
    started = time.time()
    if missing:
        print(f"ground truth: training {len(missing)} runs into {gt.directory}", flush=True)
        gt.build(
            workers=args.workers,
            progress=lambda d, n: print(
                f"  {d}/{n} runs ({time.time() - started:.0f}s)", flush=True
            ),
        )
    runs = load_runs(gt)
    rows = evaluate(runs, args.configs, args.subset, args.repeats, args.seed, args.only)
    header = (
        f"{args.dataset}: {args.configs} configurations, {runs.windows} windows, target = last "
        f"{runs.eval_windows}; {args.repeats} subsets of {args.subset}; stage 2 = top {STAGE2_K} on full data"
    )
    text = render(rows, header)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "search-quality.md").write_text(text + "\n")
        (args.out / "search-quality.json").write_text(
            json.dumps([r.summary() for r in rows], indent=1)
        )
        plot(rows, args.out / "search-quality.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
