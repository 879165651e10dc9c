"""Search quality: compute against regret@k on real drifting data, all methods side by side.

Definitions (docs/design.md §4): cost is compute, the CPU-seconds the trainer processes spent
(start-up included, as every trial pays it) over both stages: stage 1 up to where each run was
stopped, stage 2 being full training of the method's top 3. Compute reduction is a full search's
CPU-seconds divided by that, measured in the same run; the reduction in training examples is
reported beside it. regret@k is the best true target among a method's top k minus the best of
all, relative to the best, in %. Kendall tau compares the scores a method ranked by with the
truth. Every figure is a mean over resampled configuration subsets, with a 95% interval.

Evaluation rate: the main methods are also replayed at evaluation rates e < 1, each window's
logloss being that of its nested evaluation sample (recorded by the ground-truth runs) and its
compute the measured one less (1 - e) x the measured scoring CPU (a model, checked against
real runs at that rate). Stage 2 always scores in full.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from scipy.stats import kendalltau

from hypersearch.bench import methods as m
from hypersearch.bench.groundtruth import (
    EVAL_LADDER,
    FULL_RATE,
    GroundTruth,
    configurations,
    trainer_fingerprint,
)
from hypersearch.bench.transfer import VARIANTS, transfer_ground_truth

UNIT = "CPU-seconds"
STAGE2_K = 3
KS = (1, 3, 5)
TARGET_REGRET = 0.1
EVAL_RATES = (1.0, 0.3, 0.1, 0.03, 0.01)
# Real runs at these evaluation rates check the evaluation-cost model.
CHECK_EVAL_RATES = (0.1, 0.01)
# CPU-seconds of a fork-server client per trial (hypersearch_trainer/forkserver.py: ~0.07).
FORK_CLIENT_CPU = 0.07


def _prefixes(windows: int) -> list[int]:
    return sorted({max(m.COMPARE_WINDOWS + 1, windows // d) for d in (8, 4, 2)})


TRANSFER_TAG = " + transfer "


def method_table(
    rates: Sequence[float], windows: int, transfers: Sequence[str] = ()
) -> dict[str, m.Method]:
    """Every method of the benchmark, by name. ``rates`` are the cached sub-sampling rates;
    ``transfers``: the transfer variants whose stage-1 runs the runs hold (issue 16, lead 1)."""
    low, mid = rates[0], rates[min(1, len(rates) - 1)]
    prefix = _prefixes(windows)
    table: dict[str, m.Method] = {
        "full search": m.full_search,
        ORACLE: m.oracle,
        "random-k": m.random_k,
    }
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
    # Issue 16, leads 4 and 2 (engine promotion policies ``family`` and ``extrapolate``).
    for r in rates:
        table[f"family-best s={r:g}"] = m.family_best(r)
    # Issue 16, lead 3 (engine history policy ``residual``): earlier searches of the same
    # configurations, leave-future-out, teach a correction of two-step's ranking.
    if windows >= 3 * m.COMPARE_WINDOWS:
        for r in rates:
            table[f"history s={r:g}"] = m.history(r)
            table[f"history s={r:g}, earlier full searches"] = m.history(r, known="all")
    if len(rates) >= 2:
        table[f"extrapolation {'/'.join(f'{r:g}' for r in rates)}"] = m.extrapolation(rates)
    # Issue 16, lead 1: two-step and rate-halving with every stage-1 run trained with the
    # variant's rate-aware params (stage 2 untransformed), charged what those runs cost.
    for variant in transfers:
        for r in rates:
            table[f"two-step s={r:g}{TRANSFER_TAG}{variant}"] = m.with_transfer(
                m.two_step(r), variant
            )
        ladder = f"rate-halving {'/'.join(f'{r:g}' for r in rates)}"
        table[f"{ladder}{TRANSFER_TAG}{variant}"] = m.with_transfer(m.rate_halving(rates), variant)
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


def main_method_names(rates: Sequence[float], windows: int) -> list[str]:
    """The methods also replayed at every evaluation rate below 1 (ours and the main peers)."""
    low = rates[0]
    return [
        *(f"subsample s={r:g} + constant" for r in rates),
        *(f"two-step s={r:g}" for r in rates),
        f"rate-halving {'/'.join(f'{r:g}' for r in rates)}",
        f"performance s={low:g} + constant",
        "performance (full data) + constant",
        "median stopping (full data)",
        "hyperband (full data)",
        "optuna WilcoxonPruner",
        f"prefix t={_prefixes(windows)[-1]}",
    ]


ORACLE = "oracle: true top 3, stage 1 free (bound)"
OURS = (
    "prefix",
    "subsample",
    "performance",
    "rate-halving",
    "family-best",
    "extrapolation",
    "history",
)
PEERS = ("two-step", "asha", "median", "hyperband", "optuna", "random-k")


def is_ours(name: str) -> bool:
    return name.startswith(OURS) or TRANSFER_TAG in name


def label(name: str, eval_rate: float) -> str:
    return name if eval_rate >= 1.0 else f"{name} @ eval {eval_rate:g}"


@dataclass
class Row:
    """One method at one evaluation rate, one entry per resampled subset."""

    name: str
    eval_rate: float = 1.0
    reduction: list[float] = field(default_factory=list)  # compute: full search CPU / this CPU
    examples_reduction: list[float] = field(default_factory=list)
    forked_reduction: list[float] = field(default_factory=list)  # estimate, see Spend.forked
    cpu: list[float] = field(default_factory=list)  # CPU-seconds, both stages
    stage1_cpu: list[float] = field(default_factory=list)
    full_cpu: list[float] = field(default_factory=list)  # a full search of the same subset
    regret: dict[int, list[float]] = field(default_factory=lambda: {k: [] for k in KS})
    tau: list[float] = field(default_factory=list)
    # Per subset: trials lost to errors (not divergence), trials failed because their run
    # diverged, and the subset's size; the engine's reasons for the lost ones, with counts.
    lost: list[int] = field(default_factory=list)
    diverged: list[int] = field(default_factory=list)
    trials: list[int] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def all_lost(self) -> bool:
        """Whether some search lost every trial: its figures describe nothing that ran."""
        return any(n > 0 and lost >= n for lost, n in zip(self.lost, self.trials, strict=True))

    @property
    def label(self) -> str:
        return label(self.name, self.eval_rate)

    @staticmethod
    def stat(values: Sequence[float]) -> tuple[float, float]:
        a = np.array([v for v in values if math.isfinite(v)])
        if not a.size:
            return float("nan"), float("nan")
        half = 1.96 * float(a.std(ddof=1)) / math.sqrt(a.size) if a.size > 1 else 0.0
        return float(a.mean()), half

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.name, "eval_rate": self.eval_rate}
        out["reduction"], out["reduction_ci"] = self.stat(self.reduction)
        out["examples_reduction"], out["examples_reduction_ci"] = self.stat(self.examples_reduction)
        out["forked_reduction"], out["forked_reduction_ci"] = self.stat(self.forked_reduction)
        out["cpu_seconds"] = self.stat(self.cpu)[0]
        out["stage1_cpu_seconds"] = self.stat(self.stage1_cpu)[0]
        out["full_search_cpu_seconds"] = self.stat(self.full_cpu)[0]
        for k, values in self.regret.items():
            out[f"regret@{k}"], out[f"regret@{k}_ci"] = self.stat(values)
        out["tau"], out["tau_ci"] = self.stat(self.tau)
        out["lost_trials"] = float(np.mean(self.lost)) if self.lost else 0.0
        out["lost_trials_max"] = max(self.lost, default=0)
        out["diverged_trials"] = float(np.mean(self.diverged)) if self.diverged else 0.0
        out["trials"] = max(self.trials, default=0)
        out["all_lost"] = self.all_lost
        out["lost_reasons"] = dict(self.reasons)
        return out


def draw_subsets(
    configs: int, subset_size: int, repeats: int, seed: int
) -> list[tuple[list[int], int]]:
    """The benchmark's resampled subsets of ``configs`` configurations, each with the seed its
    methods run with (drawn in this order, so a report on the same arguments sees the same)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(repeats):
        subset = sorted(int(c) for c in rng.choice(configs, size=subset_size, replace=False))
        out.append((subset, int(rng.integers(1 << 31))))
    return out


def regret(truth: dict[int, float], ranking: Sequence[int], k: int) -> float:
    """regret@k in %: the best true target among the ranking's top ``k`` above the best of
    ``truth`` (lower is better)."""
    best = min(truth.values())
    return 100.0 * (min(truth[c] for c in ranking[:k]) - best) / best


def evaluate(
    runs: m.Runs,
    configs: int,
    subset_size: int,
    repeats: int,
    seed: int,
    only: str | None,
    eval_rates: Sequence[float] = (1.0,),
    startup: float | None = None,
) -> list[Row]:
    """Every method on ``repeats`` resampled subsets; the main ones also at each evaluation rate
    of ``eval_rates`` below 1. Stage 2 is always full data scored in full, as is the truth.
    ``startup``: a trainer process's start-up CPU, for the forked-trials estimate."""
    rates = sorted({r for (_, r) in runs.runs if r < FULL_RATE})
    table = method_table(rates, runs.windows, list(runs.transfers))
    if only:
        table = {k: v for k, v in table.items() if only in k or k == "full search"}
    main = [n for n in main_method_names(rates, runs.windows) if n in table]
    views = {e: runs.at_eval(e) for e in sorted(set(eval_rates) | {1.0}, reverse=True)}
    plan = [(n, e) for e, _ in views.items() for n in (table if e >= 1.0 else main)]
    rows = {(n, e): Row(n, e) for n, e in plan}
    for subset, method_seed in draw_subsets(configs, subset_size, repeats, seed):
        truth = {c: runs.target(c) for c in subset}
        full = m.Spend.total(runs.full_cost(c) for c in subset)
        for name, e in plan:
            out = table[name](views[e], subset, np.random.default_rng(method_seed))
            top_k = out.ranking[:STAGE2_K]
            stage2 = m.Spend.total(runs.full_cost(c) for c in top_k if c not in out.complete)
            total = out.stage1 + stage2
            row = rows[(name, e)]
            row.reduction.append(full.cpu / total.cpu if total.cpu > 0 else float("nan"))
            row.examples_reduction.append(
                full.examples / total.examples if total.examples > 0 else float("nan")
            )
            if startup is not None:
                row.forked_reduction.append(
                    full.forked(startup, FORK_CLIENT_CPU) / total.forked(startup, FORK_CLIENT_CPU)
                )
            row.cpu.append(total.cpu)
            row.stage1_cpu.append(out.stage1.cpu)
            row.full_cpu.append(full.cpu)
            for k in KS:
                row.regret[k].append(regret(truth, out.ranking, k))
            scored = [c for c in subset if c in out.scores]
            tau = (
                kendalltau([out.scores[c] for c in scored], [truth[c] for c in scored]).statistic
                if len(scored) >= 3
                else float("nan")
            )
            row.tau.append(float(tau))
            row.lost.append(len(out.lost))
            row.diverged.append(len(out.diverged))
            row.trials.append(len(subset))
            for reason in out.lost.values():
                row.reasons[reason] = row.reasons.get(reason, 0) + 1
    return list(rows.values())


def eval_rate_evidence(rows: list[Row], k: int = 3) -> list[dict[str, Any]]:
    """Each main method at each evaluation rate against itself at rate 1, on the same subsets:
    compute reduction, regret@k and the paired difference of regret@k (95% interval)."""
    by = {(r.name, r.eval_rate): r for r in rows}
    names = [r.name for r in rows if r.eval_rate < 1.0]
    out = []
    for name in dict.fromkeys(names):
        base = by[(name, 1.0)]
        for e in sorted((e for (n, e) in by if n == name), reverse=True):
            row = by[(name, e)]
            diff = [a - b for a, b in zip(row.regret[k], base.regret[k], strict=True)]
            d, half = Row.stat(diff)
            s = row.summary()
            out.append(
                {
                    "method": name,
                    "eval_rate": e,
                    "reduction": s["reduction"],
                    "reduction_ci": s["reduction_ci"],
                    "examples_reduction": s["examples_reduction"],
                    "forked_reduction": s["forked_reduction"],
                    f"regret@{k}": s[f"regret@{k}"],
                    f"regret@{k}_ci": s[f"regret@{k}_ci"],
                    "tau": s["tau"],
                    "tau_ci": s["tau_ci"],
                    f"regret@{k}_diff": d,
                    f"regret@{k}_diff_ci": half,
                    "lost_trials": s["lost_trials"],
                    "all_lost": s["all_lost"],
                    # not worse than scoring everything, within the 95% interval (and no trial
                    # lost to an error at this rate or at e = 1: else the figures are not a search)
                    "not_worse": bool(d - half <= 1e-12)
                    and s["lost_trials"] == 0
                    and base.summary()["lost_trials"] == 0,
                }
            )
    return out


def recommended_eval_rate(evidence: list[dict[str, Any]]) -> float:
    """The lowest evaluation rate at which no main method is worse than at rate 1 (paired 95%
    interval of regret@3), at that rate and every rate above it."""
    rates = sorted({e["eval_rate"] for e in evidence}, reverse=True)
    chosen = 1.0
    for rate in rates:
        if all(e["not_worse"] for e in evidence if e["eval_rate"] == rate):
            chosen = rate
        else:
            break
    return chosen


def lowest_eval_rate_by_method(evidence: list[dict[str, Any]]) -> dict[str, float]:
    """Per method: the lowest evaluation rate not worse than e = 1 there and at every rate above."""
    out = {}
    for name in dict.fromkeys(e["method"] for e in evidence):
        out[name] = recommended_eval_rate([e for e in evidence if e["method"] == name])
    return out


def fmt(mean: float, half: float, digits: int = 2) -> str:
    if not math.isfinite(mean):
        return "–"
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


LOST_MARK = "⚠"


def lost_cell(s: dict[str, Any]) -> str:
    """Trials lost to errors per search: ``0``, or the mean of how many (and the worst)."""
    if not s["lost_trials_max"]:
        return "0"
    return f"{s['lost_trials']:.1f} of {s['trials']} (max {s['lost_trials_max']})"


def marked(name: str, s: dict[str, Any]) -> str:
    """A method's name, flagged when it lost trials to errors."""
    return f"{name} {LOST_MARK}" if s["lost_trials_max"] else name


def render_lost(summaries: list[dict[str, Any]]) -> str:
    """What the flagged rows lost, and the engine's reasons (most frequent first)."""
    lost = [s for s in summaries if s["lost_trials_max"]]
    if not lost:
        return ""
    lines = [
        f"{LOST_MARK} Trials lost to errors: the engine failed these methods' trials although "
        "their runs did not diverge, so their figures do not describe a search that ran as "
        "designed and no verdict uses them; a row that lost every trial of a search shows no "
        "figures at all:",
        "",
    ]
    for s in lost:
        reasons = sorted(s["lost_reasons"].items(), key=lambda kv: -kv[1])[:2]
        quoted = "; ".join(f'"{r}" ×{n}' for r, n in reasons)
        lines.append(
            f"- {label(s['method'], s.get('eval_rate', 1.0))}: {s['lost_trials']:.1f} of "
            f"{s['trials']} trials per search (max {s['lost_trials_max']}); {quoted}"
        )
    return "\n".join(lines)


def render(
    rows: list[Row],
    header: str,
    checks: list[dict[str, Any]] | None = None,
    startup: float | None = None,
) -> str:
    main = [r for r in rows if r.eval_rate >= 1.0]
    summaries = sorted((r.summary() for r in main), key=lambda s: -s["reduction"])
    full = next((s for s in summaries if s["method"] == "full search"), None)
    lines = [header, ""]
    if full:
        lines += [
            f"Cost is compute: the {UNIT} the trainer processes spent (each trial its own "
            "process, start-up included), stage 1 up to where each run was stopped plus stage 2; "
            f"a full search of a subset costs {full['full_search_cpu_seconds']:,.0f} {UNIT} on "
            "average. Training examples beside it.",
            "",
        ]
    if startup is not None:
        lines += [
            f"*forked (est.)*: the same searches had every trial been forked from one warm "
            f"process (`HS_FORKSERVER`, as the local runner does): each trial saves the "
            f"{startup:.2f} CPU-s a process spends importing the trainer (measured), pays "
            f"{FORK_CLIENT_CPU} for its client, and the warm process's start-up is paid once per "
            "search. An estimate, not a measurement.",
            "",
        ]
    lines += [
        "| method | compute reduction (×) | examples reduction (×) | forked (est.) | "
        "CPU-s per search | regret@1 % | regret@3 % | regret@5 % | Kendall τ | "
        "trials lost to errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        mark = "**" if is_ours(s["method"]) else ""
        name = f"{mark}{s['method']}{mark}"
        if s["all_lost"]:  # nothing ran: no figure would mean anything
            lines.append(f"| {marked(name, s)} |" + " – |" * 8 + f" {lost_cell(s)} |")
            continue
        lines.append(
            f"| {marked(name, s)} | {fmt(s['reduction'], s['reduction_ci'], 1)} | "
            f"{fmt(s['examples_reduction'], s['examples_reduction_ci'], 1)} | "
            f"{_num(s['forked_reduction'], 1)} | {s['cpu_seconds']:,.0f} | "
            + " | ".join(fmt(s[f"regret@{k}"], s[f"regret@{k}_ci"], 3) for k in KS)
            + f" | {fmt(s['tau'], s['tau_ci'])} | {lost_cell(s)} |"
        )
    lost_note = render_lost(summaries)
    if lost_note:
        lines += ["", lost_note]
    evidence = eval_rate_evidence(rows)
    if evidence:
        lines += [
            "",
            "Evaluation rate e: each window scored on its nested evaluation sample only "
            "(replayed from the recorded sample losses; compute = measured CPU − (1 − e) × "
            "measured scoring CPU, a model). Δ = regret@3 at e minus at e = 1, paired over the "
            "same subsets (95% interval). Stage 2 scores in full.",
            "",
            "| method | e | compute reduction (×) | examples reduction (×) | forked (est.) | "
            "regret@3 % | Δ regret@3 vs e=1 | Kendall τ |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for e in evidence:
            if e["all_lost"]:
                lines.append(f"| {e['method']} {LOST_MARK} | {e['eval_rate']:g} |" + " – |" * 6)
                continue
            lines.append(
                f"| {e['method']}{' ' + LOST_MARK if e['lost_trials'] else ''} | "
                f"{e['eval_rate']:g} | "
                f"{fmt(e['reduction'], e['reduction_ci'], 1)} | "
                f"{_num(e['examples_reduction'], 1)} | {_num(e['forked_reduction'], 1)} | "
                f"{fmt(e['regret@3'], e['regret@3_ci'], 3)} | "
                f"{fmt(e['regret@3_diff'], e['regret@3_diff_ci'], 3)}"
                f"{'' if e['not_worse'] else ' (worse)'} | {fmt(e['tau'], e['tau_ci'])} |"
            )
        lines += [
            "",
            f"Lowest evaluation rate not worse than e = 1 for every method above (and at every "
            f"rate above it): **e = {recommended_eval_rate(evidence):g}**. Per method: "
            + ", ".join(f"{name} {e:g}" for name, e in lowest_eval_rate_by_method(evidence).items())
            + ".",
        ]
    if checks:
        lines += ["", render_checks(checks)]
    lines += ["", verdict([r.summary() for r in rows if r.eval_rate >= 1.0])]
    if any(r.eval_rate < 1.0 for r in rows):
        lines += [
            "",
            verdict(
                [r.summary() for r in rows if r.name in {e.name for e in rows if e.eval_rate < 1}],
                where=" with an evaluation sample (the methods above at any e)",
            ),
        ]
    oracle = next((r.summary() for r in rows if r.name == ORACLE), None)
    if oracle:
        lines += [
            "",
            f"Bound: handing the true top {STAGE2_K} to stage 2 with no stage 1 at all saves "
            f"{oracle['reduction']:.1f}× compute ({oracle['examples_reduction']:.1f}× in "
            "examples): the best configurations are the expensive ones to train.",
        ]
    return "\n".join(lines)


def _num(value: float, digits: int) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "–"


def verdict(summaries: list[dict[str, Any]], target: float = TARGET_REGRET, where: str = "") -> str:
    """The headline: the cheapest method (in compute) of ours and of the peers with mean
    regret@3 <= target among ``summaries``."""

    def best(group: list[dict[str, Any]]) -> dict[str, Any] | None:
        ok = [
            s
            for s in group
            if s["regret@3"] <= target
            and s["method"] not in ("full search", ORACLE)
            and not s.get("lost_trials_max")  # lost trials to errors: not a search that ran
        ]
        return max(ok, key=lambda s: s["reduction"]) if ok else None

    def name(s: dict[str, Any]) -> str:
        return label(s["method"], s.get("eval_rate", 1.0))

    ours = best([s for s in summaries if is_ours(s["method"])])
    peers = best([s for s in summaries if not is_ours(s["method"])])
    parts = []
    parts.append(
        f"ours: {name(ours)} at {ours['reduction']:.1f}× less compute than a full search "
        f"({ours['examples_reduction']:.1f}× fewer examples)"
        if ours
        else "ours: no method reaches it"
    )
    parts.append(
        f"best peer: {name(peers)} at {peers['reduction']:.1f}× less compute "
        f"({peers['examples_reduction']:.1f}× fewer examples)"
        if peers
        else "best peer: none reaches it"
    )
    if ours and peers:
        parts.append(f"ours vs. best peer: {ours['reduction'] / peers['reduction']:.2f}× cheaper")
    return f"At mean regret@3 ≤ {target}%{where}: " + "; ".join(parts) + "."


def eval_cost_checks(gt: GroundTruth, windows: int) -> list[dict[str, Any]]:
    """Runs that really scored only the evaluation sample against their replay from the run
    that scored everything: measured and modelled CPU, and the target logloss of both."""
    out = []
    for c, rate, e in gt.checks:
        if not gt.path(c, rate, e).exists():
            continue
        real = gt.load(c, rate, windows, e)
        scored_all = gt.load(c, rate, windows)
        model = scored_all.at_eval(e)
        out.append(
            {
                "config": c,
                "rate": rate,
                "eval_rate": e,
                "measured_cpu": real.cpu_total,
                "modelled_cpu": model.cpu_total,
                "full_eval_cpu": scored_all.cpu_total,
                "target_measured": real.target(gt.eval_windows),
                "target_replayed": model.target(gt.eval_windows),
            }
        )
    return out


def render_checks(checks: list[dict[str, Any]]) -> str:
    lines = [
        "Evaluation-cost model against real runs at that evaluation rate (same configurations; "
        "CPU-seconds per run, mean over configurations; ratio = measured / modelled, range):",
        "",
        "| rate | e | runs | CPU at e = 1 | modelled at e | measured at e | ratio | "
        "max Δ target logloss |",
        "|---|---|---|---|---|---|---|---|",
    ]
    keys = sorted({(c["rate"], c["eval_rate"]) for c in checks}, reverse=True)
    for rate, e in keys:
        group = [c for c in checks if (c["rate"], c["eval_rate"]) == (rate, e)]
        ratio = [c["measured_cpu"] / c["modelled_cpu"] for c in group]
        gap = max(abs(c["target_measured"] - c["target_replayed"]) for c in group)
        lines.append(
            f"| {rate:g} | {e:g} | {len(group)} | "
            f"{np.mean([c['full_eval_cpu'] for c in group]):.1f} | "
            f"{np.mean([c['modelled_cpu'] for c in group]):.1f} | "
            f"{np.mean([c['measured_cpu'] for c in group]):.1f} | "
            f"{np.mean(ratio):.2f} ({min(ratio):.2f}–{max(ratio):.2f}) | {gap:.1e} |"
        )
    return "\n".join(lines)


def run_costs(runs: m.Runs) -> list[dict[str, Any]]:
    """What one run costs at each rate (medians over configurations), and where it goes."""
    out = []
    for rate in sorted({r for (_, r) in runs.runs}, reverse=True):
        trajs = [t for (_, r), t in runs.runs.items() if r == rate and not t.failed]
        if not trajs:
            continue
        cpu = [t.cpu_total for t in trajs]
        out.append(
            {
                "rate": rate,
                "runs": len(trajs),
                "cpu_seconds": float(np.nanmedian(cpu)),
                "first_window_cpu_seconds": float(
                    np.nanmedian([t.cumulative_cpu()[0] for t in trajs])
                ),
                "eval_cpu_seconds": float(
                    np.nanmedian([np.nansum(t.eval_cpu) for t in trajs if t.eval_cpu is not None])
                ),
                "exit_cpu_seconds": float(np.nanmedian([t.exit_cpu for t in trajs])),
                "examples": float(np.median([t.trained.sum() for t in trajs])),
            }
        )
    return out


def render_run_costs(costs: list[dict[str, Any]]) -> str:
    lines = [
        "One run, by sub-sampling rate (medians over configurations, whole stream, scored in "
        "full): CPU-seconds in all, counted at the end of the first window (≈ start-up), spent "
        "scoring, and after the trainer's last count (result, exit):",
        "",
        "| rate | runs | CPU-s | first window | scoring | exit | training examples |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in costs:
        lines.append(
            f"| {c['rate']:g} | {c['runs']} | {c['cpu_seconds']:.1f} | "
            f"{c['first_window_cpu_seconds']:.1f} | {c['eval_cpu_seconds']:.1f} | "
            f"{c['exit_cpu_seconds']:.1f} | {c['examples']:,.0f} |"
        )
    return "\n".join(lines)


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(15, 6))
    for r in rows:
        s = r.summary()
        if r.eval_rate < 1.0 or not math.isfinite(s["regret@3"]) or s["all_lost"]:
            continue
        ours = is_ours(r.name)
        ax.scatter(
            s["reduction"], s["regret@3"], marker="o" if ours else "x", color="C0" if ours else "C3"
        )
        ax.annotate(r.name, (s["reduction"], s["regret@3"]), fontsize=6, alpha=0.8)
    ax.set_title("Every method, evaluation in full (ours: blue circles, peers: red crosses)")
    evidence = eval_rate_evidence(rows)
    for i, name in enumerate(dict.fromkeys(e["method"] for e in evidence)):
        points = [e for e in evidence if e["method"] == name]
        xs = [e["reduction"] for e in points]
        ys = [e["regret@3"] for e in points]
        bx.plot(xs, ys, marker="o", color=f"C{i % 10}", label=name, linewidth=1)
        for e in points:
            bx.annotate(f"{e['eval_rate']:g}", (e["reduction"], e["regret@3"]), fontsize=6)
    if evidence:
        bx.legend(fontsize=6)
    bx.set_title("Main methods at evaluation rates 1 … 0.01 (labels: e)")
    for axis in (ax, bx):
        axis.set_xscale("log")
        axis.set_yscale("symlog", linthresh=0.01)
        axis.set_ylim(bottom=0.0)
        axis.axhline(TARGET_REGRET, color="grey", linestyle="--", linewidth=0.8)
        axis.set_xlabel("compute reduction vs. full search (CPU-seconds, ×, log)")
        axis.set_ylabel("regret@3 (% of best logloss, symlog)")
    fig.suptitle("Search quality on a drifting stream: compute vs. regret@3")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def empty_windows(runs: m.Runs) -> list[int]:
    """Windows without a single example in every full-data run that recorded its windows."""
    full = [t.empty for (_, r), t in runs.runs.items() if r == FULL_RATE and not t.failed]
    if not full:
        return []
    return [int(w) for w in np.flatnonzero(np.logical_and.reduce(full))]


def load_runs(gt: GroundTruth, transfers: dict[str, list[GroundTruth]] | None = None) -> m.Runs:
    """The cached runs; ``transfers``: per variant, one ground truth per stage-1 rate of the
    same configurations (in the same order) trained with that variant's params."""
    docs = [gt.document(i, FULL_RATE) for i in range(len(gt.configs))]
    windows = max(len(d["windows"]) for d in docs)
    runs = {(i, r): gt.load(i, r, windows) for i in range(len(gt.configs)) for r in gt.rates}
    families = {i: str(c.get("model", "")) for i, c in enumerate(gt.configs)}
    params = {i: dict(c) for i, c in enumerate(gt.configs)}
    swapped = {
        variant: {
            (i, r): t.load(i, r, windows)
            for t in truths
            for r in t.rates
            for i in range(len(gt.configs))
        }
        for variant, truths in (transfers or {}).items()
    }
    return m.Runs(runs, gt.eval_windows, families=families, params=params, transfers=swapped)


def transfer_truths(gt: GroundTruth, variants: Sequence[str]) -> dict[str, list[GroundTruth]]:
    """Per transfer variant, the ground truth of ``gt``'s configurations at each of its stage-1
    rates trained with that variant's params (the cache ``python -m hypersearch.bench.transfer``
    writes)."""
    return {
        v: [
            transfer_ground_truth(gt.dataset, gt.configs, r, v, gt.stop, gt.eval_windows)
            for r in gt.rates
            if r < FULL_RATE
        ]
        for v in variants
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hypersearch bench search-quality", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="flights-3m", help="bundled name or dataset YAML")
    parser.add_argument("--configs", type=int, default=64)
    parser.add_argument("--rates", default="0.01,0.03,0.1", help="stage-1 sub-sampling rates")
    parser.add_argument(
        "--eval-rates",
        default=",".join(f"{e:g}" for e in EVAL_RATES),
        help="evaluation rates the main methods are replayed at (1, 0.3, 0.1, 0.03, 0.01)",
    )
    parser.add_argument(
        "--eval-checks",
        type=int,
        default=4,
        help="configurations also trained for real at evaluation rates 0.1 and 0.01 (at every "
        "rate) to check the evaluation-cost model; 0: none",
    )
    parser.add_argument("--subset", type=int, default=48, help="configurations per resample")
    parser.add_argument("--repeats", type=int, default=20, help="resampled subsets")
    parser.add_argument("--stop", type=int, default=None, help="use only windows [0, stop)")
    parser.add_argument("--workers", type=int, default=2, help="trainer processes for ground truth")
    parser.add_argument("--only", default=None, help="run only methods whose name contains this")
    parser.add_argument("--quick", action="store_true", help="minute-scale run (CI)")
    parser.add_argument("--out", type=Path, default=None, help="write table, JSON and plot here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--transfers",
        default="",
        help="issue 16, lead 1: comma-separated transfer variants (batch, batch+sqrt-lr, lr) "
        "whose stage-1 runs are also trained (one per configuration, rate and variant) and "
        "replayed as two-step and rate-halving with transfer; default none",
    )


def run(args: argparse.Namespace) -> int:
    check_rates: tuple[float, ...] = CHECK_EVAL_RATES
    if args.quick:
        args.configs, args.subset, args.repeats = 8, 6, 3
        args.stop = args.stop or 28
        args.rates = "0.05"
        args.eval_rates = "1,0.1"
        args.eval_checks = min(args.eval_checks, 1)
        check_rates = (0.1,)
    rates = tuple(float(r) for r in args.rates.split(","))
    eval_rates = tuple(float(e) for e in args.eval_rates.split(","))
    ladder = (*EVAL_LADDER, 1.0)
    if not all(any(math.isclose(e, x) for x in ladder) for e in eval_rates):
        raise SystemExit(f"--eval-rates: each must be one of {', '.join(map(str, ladder))}")
    checks = tuple(
        (c, r, e)
        for c in range(min(args.eval_checks, args.configs))
        for r in (FULL_RATE, *rates)
        for e in check_rates
    )
    gt = GroundTruth(
        args.dataset,
        configurations(args.configs),
        (FULL_RATE, *rates),
        stop=args.stop,
        checks=checks,
    )
    variants = [v for v in args.transfers.split(",") if v]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"--transfers: unknown {unknown}; known: {', '.join(VARIANTS)}")
    transfers = transfer_truths(gt, variants)
    started = time.time()
    for truth in [gt, *(t for ts in transfers.values() for t in ts)]:
        missing = truth.missing()
        if not missing:
            continue
        print(f"ground truth: training {len(missing)} runs into {truth.directory}", flush=True)
        truth.build(
            workers=args.workers,
            progress=lambda d, n: print(
                f"  {d}/{n} runs ({time.time() - started:.0f}s)", flush=True
            ),
        )
    runs = load_runs(gt, transfers)
    startup = gt.startup_cpu()
    rows = evaluate(
        runs, args.configs, args.subset, args.repeats, args.seed, args.only, eval_rates, startup
    )
    costs = run_costs(runs)
    checked = eval_cost_checks(gt, runs.windows)
    empty = empty_windows(runs)
    header = (
        f"{args.dataset}: {args.configs} configurations, {runs.windows} windows, target = last "
        f"{runs.eval_windows}; {args.repeats} subsets of {args.subset}; stage 2 = top {STAGE2_K} "
        f"on full data; ground truth {gt.directory.name} (trainer {trainer_fingerprint()})"
    )
    if empty:
        header += (
            f"; {len(empty)} windows without examples ({', '.join(map(str, empty))}): missing "
            "data for every run, left out of every mean"
        )
    text = render(rows, header, checked, startup)
    text += "\n\n" + render_run_costs(costs)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "search-quality.md").write_text(text + "\n")
        evidence = eval_rate_evidence(rows)
        doc = {
            "unit": UNIT,
            "dataset": args.dataset,
            "configs": args.configs,
            "subset": args.subset,
            "repeats": args.repeats,
            "windows": runs.windows,
            "ground_truth": gt.directory.name,
            "trainer": trainer_fingerprint(),
            "startup_cpu_seconds": startup,
            "rows": [r.summary() for r in rows],
            "eval_rates": evidence,
            "recommended_eval_rate": recommended_eval_rate(evidence) if evidence else None,
            "lowest_eval_rate_by_method": lowest_eval_rate_by_method(evidence),
            "eval_cost_checks": checked,
            "run_costs": costs,
            "empty_windows": empty,
        }
        (args.out / "search-quality.json").write_text(json.dumps(doc, indent=1))
        plot(rows, args.out / "search-quality.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
