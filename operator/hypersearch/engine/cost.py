"""Cost accounting: compute first (what users pay for), training examples beside it.

Compute is CPU-seconds and GPU-seconds per trial, from the trainer's counters or measured by
the executor (see :class:`~hypersearch.engine.trial.Trial`). The headline unit is GPU-seconds
when any run used a GPU, else CPU-seconds.

A full search runs every configuration on the whole stream at rate 1. Examples scale linearly
with the sampling rate, so a full run's examples may be estimated from reduced-rate runs. Compute
does not: start-up, data loading and scoring cost about the same at any rate, so a 1% run costs
far more than 1% of a full run. The full-run compute therefore comes from full-data runs only:
exactly from completed ones, linearly in the windows covered from running ones (an estimate).
Until one has reported, the compute reduction is not known (None), and displays say so.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from hypersearch.engine.trial import Trial, TrialState

NON_FINITE_REASON = (
    "beyond the floating-point range (the trials' reported compute or examples add up to more "
    "than about 1.8e308): written as null"
)
CPU_UNIT = "CPU-seconds"
GPU_UNIT = "GPU-seconds"
REUSED = "reused"


@dataclass(frozen=True)
class FullRun:
    """One full-data run's cost (over the whole stream), and how it was obtained."""

    examples: float | None = None
    cpu_seconds: float | None = None
    gpu_seconds: float | None = None
    compute_source: str | None = None  # None: not known yet
    compute_runs: int = 0  # full-data runs the compute figure comes from
    compute_estimated: bool = False  # extrapolated from running (partial) full-data runs


@dataclass(frozen=True)
class Cost:
    """Compute and examples per stage, and the reductions against running every config fully."""

    configurations: int
    stage1_examples: float = 0.0
    stage2_examples: float = 0.0
    stage1_cpu: float = 0.0
    stage2_cpu: float = 0.0
    stage1_gpu: float = 0.0
    stage2_gpu: float = 0.0
    full_run: FullRun = field(default_factory=FullRun)
    sources: dict[str, int] = field(default_factory=dict)  # trials by compute source
    unknown: int = 0  # trials that trained but whose compute is not known

    # ----------------------------------------------------------------- examples

    @property
    def total_examples(self) -> float:
        return self.stage1_examples + self.stage2_examples

    @property
    def full_search_examples(self) -> float | None:
        full = self.full_run.examples
        return None if full is None else full * self.configurations

    @property
    def examples_reduction(self) -> float | None:
        full = self.full_search_examples
        total = self.total_examples
        if full is None or total <= 0 or not (math.isfinite(full) and math.isfinite(total)):
            return None
        return _finite_or_none(full / total)

    # ----------------------------------------------------------------- compute

    @property
    def total_cpu(self) -> float:
        return self.stage1_cpu + self.stage2_cpu

    @property
    def total_gpu(self) -> float:
        return self.stage1_gpu + self.stage2_gpu

    @property
    def gpu(self) -> bool:
        """Is the headline unit GPU-seconds (some run used a GPU)?"""
        return self.total_gpu > 0 or (self.full_run.gpu_seconds or 0.0) > 0

    @property
    def unit(self) -> str:
        return GPU_UNIT if self.gpu else CPU_UNIT

    @property
    def total_compute(self) -> float:
        """This search's compute in the headline unit."""
        return self.total_gpu if self.gpu else self.total_cpu

    @property
    def full_run_compute(self) -> float | None:
        return self.full_run.gpu_seconds if self.gpu else self.full_run.cpu_seconds

    @property
    def full_search_cpu(self) -> float | None:
        full = self.full_run.cpu_seconds
        return None if full is None else full * self.configurations

    @property
    def full_search_gpu(self) -> float | None:
        full = self.full_run.gpu_seconds
        return None if full is None else full * self.configurations

    @property
    def full_search_compute(self) -> float | None:
        return self.full_search_gpu if self.gpu else self.full_search_cpu

    @property
    def note(self) -> str | None:
        """Why the compute reduction is not known, in words; None when it is."""
        if self.unknown:
            return (
                f"not known: {self.unknown} trial(s) trained without reporting compute "
                "(no trainer counters and no measurement)"
            )
        figures = (self.total_compute, self.full_run_compute, self.full_search_compute)
        if any(x is not None and not math.isfinite(x) for x in figures):
            return "not known: the compute figures are " + NON_FINITE_REASON.split(":")[0]
        if not self.sources or self.total_compute <= 0:
            return "not known until trials report compute"
        if not self.full_run_compute:
            return "not known until a full-data run reports"
        return None

    @property
    def reduction(self) -> float | None:
        """The headline: compute of a full search divided by this search's compute."""
        full = self.full_search_compute
        if self.note is not None or full is None:
            return None
        return _finite_or_none(full / self.total_compute)

    def to_dict(self) -> dict[str, object]:
        """The cost as JSON-ready data (status, ``results.json``). Every number is finite: a
        figure that is not is written as null, named in ``nonFinite`` with the reason."""

        def r(value: float | None, digits: int = 3) -> float | None:
            return None if value is None else round(value, digits)

        full = self.full_run
        out: dict[str, object] = {
            "reduction": r(self.reduction, 2),
            "computeUnit": self.unit,
            "computeNote": self.note,
            "stage1CpuSeconds": r(self.stage1_cpu),
            "stage2CpuSeconds": r(self.stage2_cpu),
            "totalCpuSeconds": r(self.total_cpu),
            "fullRunCpuSeconds": r(full.cpu_seconds),
            "fullSearchCpuSeconds": r(self.full_search_cpu),
            "stage1GpuSeconds": r(self.stage1_gpu),
            "stage2GpuSeconds": r(self.stage2_gpu),
            "totalGpuSeconds": r(self.total_gpu),
            "fullRunGpuSeconds": r(full.gpu_seconds),
            "fullSearchGpuSeconds": r(self.full_search_gpu),
            "fullRunComputeSource": full.compute_source,
            "fullRunComputeRuns": full.compute_runs,
            "fullRunComputeEstimated": full.compute_estimated,
            "computeSource": dict(sorted(self.sources.items())),
            "examplesReduction": r(self.examples_reduction, 2),
            "stage1Examples": self.stage1_examples,
            "stage2Examples": self.stage2_examples,
            "totalExamples": self.total_examples,
            "fullRunExamples": full.examples,
            "fullSearchExamples": self.full_search_examples,
        }
        bad = sorted(k for k, v in out.items() if isinstance(v, float) and not math.isfinite(v))
        if bad:
            out.update(dict.fromkeys(bad))
            out["nonFinite"] = {"fields": bad, "reason": NON_FINITE_REASON}
        return out


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _full_data(t: Trial, windows: int) -> bool:
    return t.data.rate >= 1.0 and t.data.start == 0 and t.data.stop >= windows


def _ran(t: Trial) -> bool:
    """Did this trial run a process of its own (not a reused stage-1 run)?"""
    return t.compute_source != REUSED


def full_run_examples(trials: Iterable[Trial], windows: int) -> float | None:
    """Examples in one full-data run over the whole stream.

    Exact from a completed full-data stage-2 run; otherwise estimated from stage-1 runs as
    examples / rate scaled to the whole stream (median over trials with a window or more).
    Examples are linear in the rate, so reduced-rate runs are fair estimates here.
    """
    estimates = []
    for t in trials:
        if t.state is TrialState.COMPLETED and _full_data(t, windows) and t.examples > 0:
            return t.examples  # (a reused run trained nothing of its own)
        covered = min(t.position, t.data.stop) - t.data.start
        if covered >= 1.0 and t.examples > 0:
            estimates.append(t.examples / t.data.rate * windows / covered)
    return float(np.median(estimates)) if estimates else None


def _stages(trials: list[Trial]) -> str:
    stages = sorted({t.stage for t in trials})
    return "stage " + str(stages[0]) if len(stages) == 1 else "stages 1 and 2"


def _eval_caveat(trials: list[Trial]) -> str:
    rates = sorted({t.data.eval_rate for t in trials if t.data.eval_rate < 1.0})
    if not rates:
        return ""
    shown = ", ".join(f"{r:g}" for r in rates)
    return (
        f"; scored at evalRate {shown}, so a full run scoring everything costs more "
        "(the reduction is understated)"
    )


def full_run_compute(
    trials: Iterable[Trial], windows: int
) -> tuple[float | None, float | None, str | None, int, bool]:
    """CPU- and GPU-seconds of one full-data run, how they were obtained, from how many runs,
    and whether that is an estimate. Only runs at rate 1 over the whole stream count."""
    full = [t for t in trials if _full_data(t, windows) and _ran(t) and t.cpu_seconds is not None]
    done = [t for t in full if t.state is TrialState.COMPLETED]
    if done:
        cpu = float(np.median([t.cpu_seconds or 0.0 for t in done]))
        gpu = float(np.median([t.gpu_seconds or 0.0 for t in done]))
        n = len(done)
        what = f"median of {n} completed full-data runs" if n > 1 else "1 completed full-data run"
        return cpu, gpu, f"{what} ({_stages(done)}){_eval_caveat(done)}", n, False
    partial = []
    for t in full:
        if t.state not in (TrialState.RUNNING, TrialState.STOPPED):
            continue
        covered = min(t.position, t.data.stop) - t.data.start
        if covered >= 1.0 and (t.cpu_seconds or 0.0) > 0:
            partial.append((t, windows / covered, covered))
    if not partial:
        return None, None, None, 0, False
    cpu = float(np.median([(t.cpu_seconds or 0.0) * f for t, f, _ in partial]))
    gpu = float(np.median([(t.gpu_seconds or 0.0) * f for t, f, _ in partial]))
    runs = [t for t, _, _ in partial]
    low, high = min(c for _, _, c in partial), max(c for _, _, c in partial)
    covered_text = f"{low:g}" if low == high else f"{low:g}-{high:g}"
    n = len(partial)
    who = "a full-data run's" if n == 1 else f"{n} full-data runs'"
    source = (
        f"an estimate, extrapolated linearly from {who} first {covered_text} of {windows} "
        f"windows{_eval_caveat(runs)}"
    )
    return cpu, gpu, source, n, True


def cost_of(trials: list[Trial], windows: int, configurations: int) -> Cost:
    """The cost of a search's trials (stage 1 and stage 2)."""
    by_stage = {1: [0.0, 0.0, 0.0], 2: [0.0, 0.0, 0.0]}  # examples, CPU-s, GPU-s
    sources: Counter[str] = Counter()
    unknown = 0
    for t in trials:
        acc = by_stage[t.stage]
        acc[0] += t.examples
        if not _ran(t):
            continue
        if t.cpu_seconds is None:
            if t.examples > 0:
                unknown += 1
            continue
        acc[1] += t.cpu_seconds
        acc[2] += t.gpu_seconds or 0.0
        sources[t.compute_source or "unknown"] += 1
    if unknown:
        sources["unknown"] += unknown
    cpu, gpu, source, runs, estimated = full_run_compute(trials, windows)
    return Cost(
        configurations=configurations,
        stage1_examples=by_stage[1][0],
        stage2_examples=by_stage[2][0],
        stage1_cpu=by_stage[1][1],
        stage2_cpu=by_stage[2][1],
        stage1_gpu=by_stage[1][2],
        stage2_gpu=by_stage[2][2],
        full_run=FullRun(
            examples=full_run_examples(trials, windows),
            cpu_seconds=cpu,
            gpu_seconds=gpu,
            compute_source=source,
            compute_runs=runs,
            compute_estimated=estimated,
        ),
        sources=dict(sources),
        unknown=unknown,
    )
