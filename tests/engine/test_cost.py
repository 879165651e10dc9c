"""Cost in compute first, examples beside it: the full-run compute comes from full-data runs
only, the reduction is unknown until one reports, the unit follows the hardware, and every
trial says where its compute figure comes from."""

from __future__ import annotations

import json
import math

import pytest
from hypersearch.engine import Search, StartTrial, StopTrial, TrialReport, TrialState, WindowStat
from hypersearch.engine.cost import CPU_UNIT, GPU_UNIT
from hypersearch.engine.trial import Trial

from tests.engine.synthetic import search_spec

T = 24  # windows


def spec(rate: float = 0.25, eval_rate: float = 1.0, trials: int = 4, top_k: int = 2):  # type: ignore[no-untyped-def]
    stage1 = {"data": {"rate": rate, "evalRate": eval_rate}, "stopping": {"rule": "none"}}
    return search_spec(trials, T, stage1=stage1, stage2={"topK": top_k}, parallelism=trials)


def windows(upto: int, value: float = 0.5) -> dict[int, WindowStat]:
    return {w: WindowStat(value + 0.01 * w, 10.0) for w in range(upto)}


def report(position: int, examples: float, cpu: float | None = None, gpu: float | None = None,
           value: float = 0.5) -> TrialReport:  # fmt: skip
    return TrialReport(float(position), examples, windows(position, value), False, cpu, gpu)


def finish_stage1(search: Search, cpu: float | None = 10.0) -> list[StartTrial]:
    """Every stage-1 trial trains the whole stream (at its rate) with ``cpu`` CPU-seconds."""
    ids = [a.trial for a in search.step() if isinstance(a, StartTrial)]
    for i in ids:
        value = 0.5 + 0.1 * i  # trial 0 is best
        search.observe(i, report(T, 250.0 * T, cpu=cpu, value=value))
        search.finished(i, True)
    return [a for a in search.step() if isinstance(a, StartTrial)]


def test_compute_reduction_is_unknown_until_a_full_data_run_reports() -> None:
    search = Search(spec())
    finish_stage1(search, cpu=10.0)
    cost = search.cost()
    # Examples extrapolate from the reduced-rate runs (linear in the rate) ...
    assert cost.full_run.examples == pytest.approx(1000.0 * T)
    assert cost.examples_reduction == pytest.approx(4 * 1000.0 * T / (4 * 250.0 * T))
    # ... compute does not: four completed 25% runs say nothing about a full run's compute.
    assert cost.total_cpu == 40.0 and cost.stage1_cpu == 40.0
    assert cost.full_run.cpu_seconds is None and cost.full_run.compute_source is None
    assert cost.reduction is None
    assert cost.note == "not known until a full-data run reports"
    d = cost.to_dict()
    assert d["reduction"] is None and d["fullRunComputeSource"] is None
    assert d["examplesReduction"] == 4.0 and d["computeUnit"] == CPU_UNIT
    assert d["computeSource"] == {"trainer": 4}
    json.dumps(d)  # plain data for the status and results.json


def test_a_running_full_data_run_gives_an_estimate_then_completed_runs_the_exact_figure() -> None:
    search = Search(spec())
    full = finish_stage1(search, cpu=10.0)
    assert [a.stage for a in full] == [2, 2]
    a, b = (s.trial for s in full)
    # 6 of 24 windows at 30 CPU-s: 120 CPU-s for a whole run, an estimate.
    search.observe(a, report(6, 6000.0, cpu=30.0))
    cost = search.cost()
    assert cost.full_run.cpu_seconds == pytest.approx(120.0)
    assert cost.full_run.compute_estimated and cost.full_run.compute_runs == 1
    assert "estimate" in (cost.full_run.compute_source or "")
    assert "first 6 of 24 windows" in (cost.full_run.compute_source or "")
    total = 40.0 + 30.0
    assert cost.reduction == pytest.approx(4 * 120.0 / total)
    # Both full runs complete: the median of the two, exact.
    search.observe(a, report(T, 24000.0, cpu=100.0))
    search.observe(b, report(T, 24000.0, cpu=140.0, value=0.6))
    search.finished(a, True)
    search.finished(b, True)
    cost = search.cost()
    assert not cost.full_run.compute_estimated
    assert cost.full_run.cpu_seconds == pytest.approx(120.0)
    assert cost.full_run.compute_source == "median of 2 completed full-data runs (stage 2)"
    assert cost.stage2_cpu == 240.0 and cost.total_cpu == 280.0
    assert cost.reduction == pytest.approx(4 * 120.0 / 280.0)
    assert cost.to_dict()["reduction"] == round(4 * 120.0 / 280.0, 2)
    assert cost.full_search_examples == 4 * 24000.0


def test_reduced_rate_runs_never_set_the_full_run_compute_even_when_cheap() -> None:
    """A 1% run costs far more than 1% of a full run; only rate-1 runs count."""
    search = Search(spec(rate=0.01))
    full = finish_stage1(search, cpu=50.0)  # start-up dominates a 1% run
    search.observe(full[0].trial, report(12, 12000.0, cpu=100.0))
    cost = search.cost()
    assert cost.full_run.cpu_seconds == pytest.approx(200.0)  # not 50 / 0.01
    assert cost.reduction == pytest.approx(4 * 200.0 / (200.0 + 100.0))


def test_gpu_seconds_are_the_headline_when_a_run_used_a_gpu() -> None:
    search = Search(spec(rate=1.0, trials=2, top_k=1))
    ids = [a.trial for a in search.step() if isinstance(a, StartTrial)]
    search.observe(ids[0], report(T, 1000.0 * T, cpu=400.0, gpu=100.0))
    search.observe(ids[1], report(12, 12000.0, cpu=100.0, gpu=25.0, value=0.9))
    search.finished(ids[0], True)
    cost = search.cost()
    assert cost.unit == GPU_UNIT and cost.to_dict()["computeUnit"] == "GPU-seconds"
    assert cost.full_run.gpu_seconds == 100.0 and cost.full_run.cpu_seconds == 400.0
    assert cost.total_gpu == 125.0 and cost.total_compute == 125.0
    assert cost.reduction == pytest.approx(2 * 100.0 / 125.0)
    assert cost.full_run.compute_source == "1 completed full-data run (stage 1)"


def test_executor_measurements_sources_and_unknown_compute() -> None:
    search = Search(spec())
    ids = [a.trial for a in search.step() if isinstance(a, StartTrial)]
    search.observe(ids[0], report(4, 1000.0, cpu=5.0))  # the trainer's counters
    for i in ids[1:]:
        search.observe(i, report(4, 1000.0))  # no counters
    assert search.record_compute(ids[1], 6.0, 0.0, "rusage")
    assert search.record_compute(ids[2], 7.5, 0.0, "pod-requests")
    # The trainer's counters win over a measurement; garbage measurements are ignored.
    assert not search.record_compute(ids[0], 99.0, 0.0, "rusage")
    assert not search.record_compute(ids[3], float("nan"), 0.0, "rusage")
    assert not search.record_compute(ids[3], -1.0, 0.0, "rusage")
    trials = search.trials
    assert (trials[ids[0]].cpu_seconds, trials[ids[0]].compute_source) == (5.0, "trainer")
    assert (trials[ids[1]].cpu_seconds, trials[ids[1]].compute_source) == (6.0, "rusage")
    cost = search.cost()
    assert cost.sources == {"trainer": 1, "rusage": 1, "pod-requests": 1, "unknown": 1}
    assert cost.unknown == 1 and cost.reduction is None
    assert "1 trial(s) trained without reporting compute" in (cost.note or "")
    # A measurement after the trial ended (the process's exit rusage) is recorded too.
    search.observe(ids[3], report(T, 6000.0))
    search.finished(ids[3], True)
    assert trials[ids[3]].state is TrialState.COMPLETED
    assert search.record_compute(ids[3], 8.0, None, "rusage")
    assert search.cost().unknown == 0


@pytest.mark.parametrize(
    ("cpu", "gpu", "why"),
    [
        (float("nan"), None, "invalid CPU-seconds"),
        (-1.0, None, "invalid CPU-seconds"),
        (3.0, float("inf"), "invalid GPU-seconds"),
    ],
)
def test_garbage_compute_fails_the_trial(cpu: float, gpu: float | None, why: str) -> None:
    search = Search(spec())
    tid = next(a.trial for a in search.step() if isinstance(a, StartTrial))
    assert search.observe(tid, report(2, 100.0, cpu=2.0, gpu=1.0)) == []
    actions = search.observe(tid, report(3, 150.0, cpu=cpu, gpu=gpu))
    assert isinstance(actions[0], StopTrial) and actions[0].failed
    assert why in search.trials[tid].reason


def test_a_resumed_trainer_catching_up_is_ignored_not_failed() -> None:
    """Executors pass reports unfiltered: going back (a trainer restarted from an older
    checkpoint, its counters restarting) keeps what was observed until it catches up."""
    search = Search(spec())
    tid = next(a.trial for a in search.step() if isinstance(a, StartTrial))
    search.observe(tid, report(3, 150.0, cpu=3.0, gpu=1.0))
    trial = search.trials[tid]
    assert search.observe(tid, report(2, 100.0, cpu=1.0, gpu=0.5)) == []
    assert (trial.position, trial.examples, trial.cpu_seconds) == (3, 150.0, 3.0)
    # Past the old position, with the counter still restarting: progress, last CPU kept.
    search.observe(tid, report(4, 200.0, cpu=2.0, gpu=1.5))
    assert trial.state is TrialState.RUNNING
    assert (trial.position, trial.cpu_seconds, trial.gpu_seconds) == (4, 3.0, 1.5)


def test_compute_is_persisted_and_old_state_still_loads() -> None:
    search = Search(spec())
    ids = [a.trial for a in search.step() if isinstance(a, StartTrial)]
    search.observe(ids[0], report(3, 100.0, cpu=2.5, gpu=0.0))
    search.record_compute(ids[1], 1.25, 0.0, "rusage")
    state = json.loads(json.dumps(search.to_state()))
    again = Search.from_state(search.spec, state)
    assert again.to_state() == search.to_state()
    assert again.trials[ids[1]].compute_source == "rusage"
    # A record written before compute and evalRate existed.
    old = dict(state["trials"][ids[0]])
    for key in ("cpuSeconds", "gpuSeconds", "computeSource"):
        del old[key]
    del old["data"]["evalRate"]
    t = Trial.from_dict(old)
    assert t.cpu_seconds is None and t.compute_source is None and t.data.eval_rate == 1.0


def test_a_stage1_run_scored_on_a_sample_is_not_reused_as_the_full_result() -> None:
    for eval_rate, reused in ((1.0, True), (0.5, False)):
        search = Search(spec(rate=1.0, eval_rate=eval_rate, trials=2, top_k=1))
        full = finish_stage1(search, cpu=10.0)
        stage2 = [t for t in search.trials if t.stage == 2]
        assert len(stage2) == 1
        if reused:
            assert full == [] and stage2[0].state is TrialState.COMPLETED
            assert stage2[0].compute_source == "reused"
            # It cost nothing; the stage-1 runs were full-data runs, so the reduction is 1.
            cost = search.cost()
            assert cost.stage2_cpu == 0 and math.isclose(cost.reduction or 0, 1.0)
        else:
            assert [a.stage for a in full] == [2]
            assert full[0].env["HS_EVAL_RATE"] == "1.0"  # stage 2 scores the target fully
            # The sampled stage-1 runs give an understated baseline, and say so.
            source = search.cost().full_run.compute_source or ""
            assert "evalRate 0.5" in source and "understated" in source
