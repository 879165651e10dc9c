"""The local runner with real subprocesses: outcomes, failures with reasons, Ctrl-C, resume."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from hypersearch.local import LocalRunner, RunOptions
from hypersearch.spec import parse

from tests.local.conftest import (
    alive,
    fake_manifest,
    read_state,
    set_env,
    start_cli,
    wait_for,
    write_manifest,
)


def run(doc: dict, state_dir: Path, **options: object) -> LocalRunner:
    runner = LocalRunner(parse(doc), RunOptions(state_dir=state_dir, progress=False, **options))  # type: ignore[arg-type]
    runner.code = runner.run()  # type: ignore[attr-defined]
    return runner


def test_search_runs_to_a_winner_with_stops(tmp_path: Path) -> None:
    runner = run(fake_manifest("fake-ok"), tmp_path / "out")
    assert runner.code == 0  # type: ignore[attr-defined]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["phase"] == "Succeeded"
    best = min(results["trials"][:6], key=lambda t: abs(t["params"]["x"] - 0.3))
    assert results["promoted"] == [best["name"]]
    assert results["winner"] == f"fake-ok-{best['id']:03d}-full"
    stopped = [t for t in results["trials"] if t["state"] == "Stopped"]
    assert stopped and all("stopped at" in t["reason"] for t in stopped)
    assert results["cost"]["examplesReduction"] > 1.5
    # The fake trainer's compute is mostly its start-up, which a reduced run pays in full:
    # the compute reduction is known (a full-data run completed) but need not be above 1.
    assert results["cost"]["reduction"] is not None
    assert not runner.live and not runner.stopping


def test_trials_without_compute_counters_are_measured_by_the_runner(tmp_path: Path) -> None:
    """The fake trainer exports no CPU counter: the runner measures each process's CPU time
    (rusage when it reaps it), which matches what the process itself says it used."""
    spin = 0.03  # CPU-seconds burnt per window
    doc = set_env(fake_manifest("fake-cpu"), "HS_FAKE_SPIN", str(spin))
    runner = run(doc, tmp_path / "out")
    assert runner.code == 0  # type: ignore[attr-defined]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    for t in results["trials"]:
        assert t["computeSource"] == "rusage", t
        windows = t["position"] - t["data"]["start"]
        assert t["cpuSeconds"] >= spin * windows, t
        # The process's own account of its CPU time, written just before it exited.
        own = json.loads((tmp_path / "out" / "trials" / t["name"] / "result.json").read_text())
        assert abs(t["cpuSeconds"] - own["cpu_seconds_self"]) < 0.25, (t, own)
    cost = results["cost"]
    n = len(results["trials"])
    assert cost["computeSource"] == {"rusage": n}
    assert cost["computeUnit"] == ("GPU-seconds" if runner.devices else "CPU-seconds")
    total = sum(t["cpuSeconds"] for t in results["trials"])
    assert abs(cost["totalCpuSeconds"] - total) < 1e-2
    # Stage 2 trained on the whole stream at rate 1: the baseline of the compute reduction.
    assert cost["fullRunComputeSource"] == "1 completed full-data run (stage 2)"
    (full,) = [t for t in results["trials"] if t["stage"] == 2]
    assert cost["fullRunCpuSeconds"] == round(full["cpuSeconds"], 3)
    expected = 6 * full["cpuSeconds"] / total
    assert abs(cost["reduction"] - expected) < 0.01
    assert cost["examplesReduction"] > 1.5


def test_a_trainer_exporting_compute_counters_is_taken_at_its_word(tmp_path: Path) -> None:
    doc = set_env(fake_manifest("fake-ctr", trials=3), "HS_FAKE_COUNTERS", "1")
    runner = run(doc, tmp_path / "out")
    assert runner.code == 0  # type: ignore[attr-defined]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {t["computeSource"] for t in results["trials"]} == {"trainer"}
    assert all(t["cpuSeconds"] > 0 for t in results["trials"])
    assert results["cost"]["computeSource"] == {"trainer": len(results["trials"])}


def test_crash_silence_and_hang_fail_with_clear_reasons(tmp_path: Path) -> None:
    doc = set_env(
        fake_manifest("fake-bad"),
        "HS_FAKE_MODES",
        "fake-bad-000:crash,fake-bad-001:silent,fake-bad-002:hang",
    )
    # The start-up deadline from the spec; the hang deadline given on the command line wins
    # over the spec's.
    doc["spec"]["deadlines"] = {"startupSeconds": 3, "progressSeconds": 1000}
    runner = run(doc, tmp_path / "out", hang_timeout=2.0, stop_grace=1.0)
    reasons = {t.name: t.reason for t in runner.search.trials}
    assert runner.search.trials[0].state.value == "Failed"
    assert "crashed: exit code 3" in reasons["fake-bad-000"]
    assert "simulated crash" in reasons["fake-bad-000"]
    assert reasons["fake-bad-001"].startswith("StartupDeadlineExceeded: ")
    assert "never answered in 3s" in reasons["fake-bad-001"]
    assert "ProgressDeadlineExceeded: hung, no progress for 2s" in reasons["fake-bad-002"]
    assert runner.search.phase == "Succeeded"  # three failures are within maxFailedTrials=3
    pids = [info["pid"] for info in runner.meta.values()]
    assert pids and not any(alive(p) for p in pids)


def test_a_failure_that_ends_the_search_stops_the_other_trials_cleanly(tmp_path: Path) -> None:
    """The first crash fails the search (maxFailedTrials=0), which stops the trials still
    running in the same pass over the processes, one of which may have just exited too (two
    crash together: before the fix that raised KeyError, when both ended in one pass)."""
    doc = set_env(
        fake_manifest("fake-end"), "HS_FAKE_MODES", "fake-end-000:crash,fake-end-001:crash"
    )
    doc["spec"]["maxFailedTrials"] = 0
    runner = run(doc, tmp_path / "out", stop_grace=1.0)
    assert runner.search.phase == "Failed"
    assert "crashed: exit code 3" in runner.search.trials[0].reason
    stopped = [t for t in runner.search.trials if t.state.value == "Stopped"]
    assert stopped and all(t.reason.startswith("search failed") for t in stopped)
    pids = [info["pid"] for info in runner.meta.values()]
    assert pids and not any(alive(p) for p in pids)


def test_ctrl_c_leaves_no_processes(tmp_path: Path) -> None:
    doc = set_env(fake_manifest("fake-int"), "HS_FAKE_STEP", "0.5")
    manifest = write_manifest(tmp_path / "s.yaml", doc)
    state_dir = tmp_path / "out"
    proc = start_cli("run", str(manifest), "--state-dir", str(state_dir))

    def two_running() -> bool:
        st = read_state(state_dir)
        return st is not None and sum("pid" in i for i in st["trials"].values()) >= 2

    wait_for(two_running)
    pids = [i["pid"] for i in (read_state(state_dir) or {})["trials"].values()]
    assert all(alive(p) for p in pids)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "--resume" in out
    assert not any(alive(p) for p in pids)


def test_resume_after_kill_gives_the_same_winner(tmp_path: Path) -> None:
    doc = set_env(fake_manifest("fake-res", trials=8), "HS_FAKE_STEP", "0.08")
    reference = run(doc, tmp_path / "ref")
    assert reference.search.phase == "Succeeded"

    manifest = write_manifest(tmp_path / "s.yaml", doc)
    state_dir = tmp_path / "out"
    proc = start_cli("run", str(manifest), "--state-dir", str(state_dir), "--quiet")

    def some_decided() -> bool:
        st = read_state(state_dir)
        return st is not None and sum(t["state"] != "Running" for t in st["engine"]["trials"]) >= 3

    wait_for(some_decided)
    proc.kill()
    proc.wait()
    before = read_state(state_dir)
    assert before is not None
    running = [i["pid"] for i in before["trials"].values() if "pid" in i]
    # The trainers learn of the runner's death (PR_SET_PDEATHSIG) and stop on their own.
    wait_for(lambda: not any(alive(p) for p in running), timeout=30)

    resumed = run(doc, state_dir, resume=True)
    assert resumed.search.phase == "Succeeded"
    # A restarted trial's CPU time adds to what its first process had used.
    for t in before["engine"]["trials"]:
        if t["cpuSeconds"] is not None:
            assert (resumed.search.trials[t["id"]].cpu_seconds or 0) >= t["cpuSeconds"]
    assert resumed.search.summary()["winner"] == reference.search.summary()["winner"]
    assert resumed.search.promoted == reference.search.promoted
    for t in before["engine"]["trials"]:
        if t["state"] != "Running":
            after = resumed.search.trials[t["id"]]
            assert (after.state.value, after.reason) == (t["state"], t["reason"])
