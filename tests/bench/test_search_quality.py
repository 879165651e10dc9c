"""The search-quality benchmark: its accounting on synthetic runs, and the quick run for real."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypersearch.bench import methods as m
from hypersearch.bench import search_quality as sq
from hypersearch.bench.groundtruth import Trajectory
from hypersearch.spec.model import DataRange
from scipy.stats import kendalltau

from tests.engine.synthetic import make_world

N, T = 24, 60
START_UP, EXIT = 2.0, 0.5  # CPU-seconds every run pays before its first window and after its last
TRAIN_CPU, EVAL_CPU = 1e-4, 0.05  # per example trained, per window scored in full


def synthetic_run(metrics: np.ndarray, trained: np.ndarray, seed: int) -> Trajectory:
    """A run with a CPU account like the trainer's: cumulative per window, scoring per window,
    and nested evaluation samples whose loss is the window's metric plus sampling noise."""
    eval_cpu = np.full(T, EVAL_CPU)
    cpu = START_UP + np.cumsum(TRAIN_CPU * trained + eval_cpu)
    rng = np.random.default_rng(seed)
    sample = {}
    for e in (0.01, 0.03, 0.1, 0.3):
        n = np.full(T, 1000.0 * e)
        sample[e] = ((metrics + rng.normal(0, 0.002 / np.sqrt(e), T)) * n, n)
    return Trajectory(
        metrics,
        np.zeros(T),
        np.full(T, 1000.0),
        trained,
        {},
        cpu=cpu,
        cpu_total=float(cpu[-1]) + EXIT,
        exit_cpu=EXIT,
        eval_cpu=eval_cpu,
        eval_sample=sample,
    )


@pytest.fixture(scope="module")
def runs() -> m.Runs:
    world = make_world(N, T, seed=5)
    out = {}
    for c in range(N):
        for rate in (1.0, 0.05, 0.2):
            metrics, trained = world.curve(c, DataRange(0, T, rate))
            out[(c, rate)] = synthetic_run(metrics, trained, c)
    # One configuration diverged: no finite metric at all (it still ran, and cost CPU).
    nan = np.full(T, np.nan)
    diverged = synthetic_run(nan, np.zeros(T), 7)
    out[(7, 1.0)] = Trajectory(
        nan,
        nan,
        np.ones(T),
        np.zeros(T),
        {},
        cpu=diverged.cpu,
        cpu_total=diverged.cpu_total,
        exit_cpu=EXIT,
        eval_cpu=diverged.eval_cpu,
        eval_sample={e: (nan, n) for e, (_, n) in diverged.eval_sample.items()},
    )
    return m.Runs(out, 7)


def test_accounting_of_the_reference_methods(runs: m.Runs) -> None:
    rows = {r.label: r.summary() for r in sq.evaluate(runs, N, 18, 3, 0, None)}
    for name, s in rows.items():
        assert s["reduction"] > 0 and s["examples_reduction"] > 0, name
    # Cheaper data means a cheaper stage 1, but in compute much less so than in examples: every
    # run pays its start-up and scores every window whatever its rate.
    for key in ("reduction", "examples_reduction"):
        assert rows["two-step s=0.05"][key] > rows["two-step s=0.2"][key]
        assert rows["prefix t=8"][key] > rows["prefix t=30"][key]
    assert rows["two-step s=0.05"]["reduction"] < rows["two-step s=0.05"]["examples_reduction"]
    # The diverged configuration counts as the worst: a full search ranks it last.
    outcome = m.full_search(runs, list(range(N)), np.random.default_rng(0))
    assert 7 in outcome.ranking[-2:] and runs.target(7) == max(runs.target(c) for c in range(N))


def test_costs_are_the_cpu_seconds_the_runs_spent_until_stopped(runs: m.Runs) -> None:
    subset = [c for c in range(13) if c != 7]  # (the diverged run fails at its first window)
    rng = np.random.default_rng
    full = m.full_search(runs, subset, rng(0)).stage1
    # A full search pays what each full run's process spent, start-up and exit included.
    assert full.cpu == pytest.approx(sum(runs.full(c).cpu_total for c in subset))
    assert full.cpu > len(subset) * (START_UP + EXIT)
    # The same configurations stopped after 8 windows: charged less, and exactly up to there.
    prefix = m.engine(stop=8)(runs, subset, rng(0)).stage1
    assert prefix.cpu < full.cpu
    assert prefix.cpu == pytest.approx(sum(runs.full(c).cpu[7] + EXIT for c in subset))
    # Stopping rules stop some runs early: never more than running them all to the end.
    for method in (m.engine(rule="asha"), m.hyperband(), m.engine(rule="median")):
        assert method(runs, subset, rng(0)).stage1.cpu < full.cpu
    # Re-running the survivors at a higher rate pays again: rate-halving costs more than its
    # first rung alone.
    first_rung = m.two_step(0.05)(runs, subset, rng(0)).stage1
    assert m.rate_halving([0.05, 0.2])(runs, subset, rng(0)).stage1.cpu > first_rung.cpu


def test_forked_estimate_pays_start_up_once_per_search(runs: m.Runs) -> None:
    rows = {r.label: r.summary() for r in sq.evaluate(runs, N, 18, 2, 0, "two-step", startup=1.5)}
    # Many cheap low-rate runs are where start-up weighs most: forking helps them most.
    low = rows["two-step s=0.05"]
    assert low["forked_reduction"] > low["reduction"] > 1.0
    no_estimate = sq.evaluate(runs, N, 18, 1, 0, "two-step")[0].summary()
    assert np.isnan(no_estimate["forked_reduction"])


def test_a_run_pays_up_to_its_stop_and_a_continuation_only_its_extra_windows(
    runs: m.Runs,
) -> None:
    run = runs.full(0)
    whole = run.cpu_until(T)
    assert whole == pytest.approx(run.cpu_total)
    assert run.cpu_until(10) < run.cpu_until(20) < whole
    # Continuing from window 10 to 20 pays the windows added, not the start-up again.
    extra = run.cpu_until(20, start=10)
    assert extra == pytest.approx(run.cpu_until(20) - run.cpu_until(10))
    assert extra < run.cpu_until(10)


def test_evaluation_rate_replay(runs: m.Runs) -> None:
    low = runs.at_eval(0.1)
    run, cheap = runs.full(3), low.full(3)
    # Scoring 10% of each window saves 90% of the measured scoring CPU, nothing else.
    assert cheap.cpu_total == pytest.approx(run.cpu_total - 0.9 * EVAL_CPU * T)
    assert np.allclose(cheap.trained, run.trained)
    # The metric is the evaluation sample's: close to the full window's, not identical.
    assert np.abs(cheap.logloss - run.logloss).max() < 0.05
    assert not np.allclose(cheap.logloss, run.logloss)
    # A method at a lower evaluation rate trains the same examples for less compute, and its
    # full-data finishers are not reused as stage 2 (their target was scored on a sample).
    subset = list(range(12))
    full_e = m.engine(rule="asha")(low, subset, np.random.default_rng(0))
    full_1 = m.engine(rule="asha")(runs, subset, np.random.default_rng(0))
    assert full_1.complete and not full_e.complete
    two_1 = m.two_step(0.05)(runs, subset, np.random.default_rng(0)).stage1
    two_e = m.two_step(0.05)(low, subset, np.random.default_rng(0)).stage1
    assert two_e.cpu < two_1.cpu and two_e.examples == two_1.examples
    with pytest.raises(ValueError, match="no evaluation sample"):
        runs.at_eval(0.5)


def test_eval_rate_table_and_recommendation(runs: m.Runs, tmp_path: Path) -> None:
    rows = sq.evaluate(runs, N, 12, 3, 1, None, eval_rates=(1.0, 0.1, 0.01))
    evidence = sq.eval_rate_evidence(rows)
    methods = {e["method"] for e in evidence}
    assert "subsample s=0.05 + constant" in methods and "hyperband (full data)" in methods
    for e in evidence:
        assert e["eval_rate"] in (1.0, 0.1, 0.01)
    # Scoring less costs less stage-1 compute, for the same training examples.
    sub = {r.eval_rate: r.summary() for r in rows if r.name == "subsample s=0.05 + constant"}
    cpu = [sub[e]["stage1_cpu_seconds"] for e in (1.0, 0.1, 0.01)]
    assert cpu[0] > cpu[1] > cpu[2] > 0
    assert all(
        sub[e]["examples_reduction"] == pytest.approx(sub[1.0]["examples_reduction"])
        for e in (0.1, 0.01)
    )
    assert sq.recommended_eval_rate(evidence) in (1.0, 0.1, 0.01)
    text = sq.render(rows, "synthetic")
    assert "| full search |" in text and "compute reduction" in text
    assert "subsample s=0.05 + constant @ eval" not in text.split("Evaluation rate e")[0]
    assert "Lowest evaluation rate not worse than e = 1" in text
    sq.plot(rows, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 10_000


def test_recommended_eval_rate_stops_at_the_first_rate_that_is_worse() -> None:
    def ev(e: float, ok: bool) -> dict[str, object]:
        return {"method": "x", "eval_rate": e, "not_worse": ok}

    assert sq.recommended_eval_rate([ev(1.0, True), ev(0.1, True), ev(0.01, False)]) == 0.1
    assert sq.recommended_eval_rate([ev(1.0, True), ev(0.1, False), ev(0.01, True)]) == 1.0
    assert sq.lowest_eval_rate_by_method([ev(1.0, True), ev(0.1, True)]) == {"x": 0.1}


def test_the_oracle_bound_is_not_a_verdict(runs: m.Runs) -> None:
    rows = {r.label: r.summary() for r in sq.evaluate(runs, N, 18, 2, 0, "oracle")}
    assert sq.ORACLE not in sq.verdict(list(rows.values()))


REVERSAL_N = 6


def reversal_runs() -> m.Runs:
    """Six configurations whose ranking reverses at mid-stream, with known figures everywhere.

    At full data config ``c`` scores ``0.5 + 0.01 c`` before window 30 and ``0.5 - 0.01 c`` from
    there on: the truth (last 7 windows) ranks 5 best, a prefix of 8 windows ranks 0 best. The 5%
    runs rank ``LOW_ORDER`` first to last. Config ``c``'s CPU is ``1 + c`` times the base, so
    compute and example reductions differ.
    """
    w = np.arange(T)
    out = {}
    for c in range(REVERSAL_N):
        full = np.where(w < 30, 0.5 + 0.01 * c, 0.5 - 0.01 * c)
        low = np.full(T, 0.5 + 0.01 * LOW_ORDER.index(c))
        for rate, metrics in ((1.0, full), (0.05, low)):
            run = synthetic_run(metrics, np.full(T, 1000.0 * rate), c)
            scale = 1.0 + c
            out[(c, rate)] = dataclasses.replace(
                run,
                cpu=run.cpu * scale,  # type: ignore[operator]
                cpu_total=run.cpu_total * scale,
                exit_cpu=EXIT * scale,
            )
    return m.Runs(out, 7)


LOW_ORDER = [3, 5, 0, 4, 1, 2]  # the 5% runs' ranking, best first


def test_regret_tau_and_reductions_match_hand_computed_values() -> None:
    """Every figure of three methods recomputed here from the definitions (docs/design.md §4)."""
    runs = reversal_runs()
    rows = {r.label: r.summary() for r in sq.evaluate(runs, REVERSAL_N, REVERSAL_N, 1, 0, None,
                                                      startup=1.5)}  # fmt: skip
    truth = {c: 0.5 - 0.01 * c for c in range(REVERSAL_N)}
    best = min(truth.values())

    def regret(ranking: list[int], k: int) -> float:
        return 100 * (min(truth[c] for c in ranking[:k]) - best) / best

    def cpu_total(c: int) -> float:
        return runs.full(c).cpu_total

    full_cpu = sum(cpu_total(c) for c in range(REVERSAL_N))
    full_examples = REVERSAL_N * T * 1000.0

    # A prefix of 8 windows ranks in exactly the wrong order.
    prefix = rows["prefix t=8"]
    for k in (1, 3, 5):
        assert prefix[f"regret@{k}"] == pytest.approx(regret([0, 1, 2, 3, 4, 5], k)), k
    assert prefix["tau"] == pytest.approx(-1.0)
    stage1 = sum(float(runs.full(c).cpu[7]) + runs.full(c).exit_cpu for c in range(REVERSAL_N))  # type: ignore[index]
    stage2 = sum(cpu_total(c) for c in (0, 1, 2))
    assert prefix["stage1_cpu_seconds"] == pytest.approx(stage1)
    assert prefix["reduction"] == pytest.approx(full_cpu / (stage1 + stage2))
    assert prefix["examples_reduction"] == pytest.approx(
        full_examples / (REVERSAL_N * 8 * 1000.0 + 3 * T * 1000.0)
    )

    # Two-step at 5%: the true best is second, so it is lost at k = 1 only.
    two = rows["two-step s=0.05"]
    assert two["regret@1"] == pytest.approx(regret(LOW_ORDER, 1)) and two["regret@1"] > 0
    assert two["regret@3"] == 0.0
    scores = [LOW_ORDER.index(c) for c in range(REVERSAL_N)]
    assert two["tau"] == pytest.approx(kendalltau(scores, [truth[c] for c in range(REVERSAL_N)])[0])
    low_cpu = sum(runs.runs[(c, 0.05)].cpu_total for c in range(REVERSAL_N))
    stage2 = sum(cpu_total(c) for c in LOW_ORDER[:3])
    assert two["reduction"] == pytest.approx(full_cpu / (low_cpu + stage2))
    # Forked: every one of the 6 + 3 processes saves its start-up but pays a client; the warm
    # process's start-up is paid once (the full search: 6 processes).
    saved = 1.5 - sq.FORK_CLIENT_CPU
    forked = (full_cpu - 6 * saved + 1.5) / (low_cpu + stage2 - 9 * saved + 1.5)
    assert two["forked_reduction"] == pytest.approx(forked)

    # The oracle bound: the true top 3 trained in full, nothing else paid.
    bound = rows[sq.ORACLE]
    assert bound["regret@1"] == 0.0 and bound["stage1_cpu_seconds"] == 0.0
    assert bound["reduction"] == pytest.approx(full_cpu / sum(cpu_total(c) for c in (5, 4, 3)))
    assert bound["examples_reduction"] == pytest.approx(REVERSAL_N / 3)
    assert bound["reduction"] < 0.8 * bound["examples_reduction"]  # the heavy ones win


def test_rendered_table_names_every_method_and_the_verdict(runs: m.Runs, tmp_path: Path) -> None:
    rows = sq.evaluate(runs, N, 12, 2, 1, "asha")
    text = sq.render(rows, "synthetic")
    assert "| full search |" in text and "asha (full data)" in text
    assert "At mean regret@3 ≤ 0.1%" in text and "× less compute" in text
    sq.plot(rows, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 10_000


def test_quick_benchmark_on_real_trainer_runs(tmp_path: Path) -> None:
    """`hypersearch bench search-quality --quick`: real trainer runs on flights-3m (fetched on
    first use, cached), every method replayed, costs in the CPU-seconds the runs spent."""
    fetch = subprocess.run(
        [sys.executable, "-m", "hypersearch_trainer.datasets", "fetch", "flights-3m"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert fetch.returncode == 0, fetch.stderr
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hypersearch",
            "bench",
            "search-quality",
            "--quick",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| full search | 1.0 ± 0.0 | 1.0 ± 0.0 |" in result.stdout
    for method in (
        "optuna WilcoxonPruner",
        "hyperband (full data)",
        "subsample s=0.05 + trajectory",
    ):
        assert method in result.stdout
    assert (out / "search-quality.png").stat().st_size > 10_000
    doc = json.loads((out / "search-quality.json").read_text())
    assert doc["unit"] == "CPU-seconds" and doc["startup_cpu_seconds"] > 0
    rows = {(r["method"], r["eval_rate"]): r for r in doc["rows"]}
    full = rows[("full search", 1.0)]
    # Every trainer process costs CPU; a method that stops the same configurations earlier
    # (a prefix of the stream) is charged less than running them to the end.
    assert full["stage1_cpu_seconds"] > 0
    assert full["cpu_seconds"] == pytest.approx(full["full_search_cpu_seconds"])
    prefix = rows[("prefix t=8", 1.0)]
    assert 0 < prefix["stage1_cpu_seconds"] < full["stage1_cpu_seconds"]
    # The compute path at a lower evaluation rate: replayed and checked against a real run.
    sub = {e["eval_rate"]: e for e in doc["eval_rates"] if e["method"].startswith("subsample")}
    assert set(sub) == {1.0, 0.1} and sub[0.1]["reduction"] > sub[1.0]["reduction"]
    assert doc["eval_cost_checks"] and all(c["measured_cpu"] > 0 for c in doc["eval_cost_checks"])
    assert doc["recommended_eval_rate"] in (1.0, 0.1)
