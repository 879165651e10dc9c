"""The search-quality benchmark over a stream with days that have no examples at all.

Issue 16: on such a stream every full-horizon method lost all its trials (the replay read the
empty day as a run that diverged) and its row came out as numbers nonetheless. Empty days are
missing data for every method now, and a row whose method lost trials to errors says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypersearch.bench import methods as m
from hypersearch.bench import search_quality as sq
from hypersearch.bench.groundtruth import Trajectory
from hypersearch.replay import Curve
from hypersearch.spec.model import DataRange

from tests.bench.test_search_quality import N, T, synthetic_run
from tests.engine.synthetic import make_world
from tests.trainer.test_empty_windows import gapped_stream

EMPTY = (20, 21, 57)  # two days mid-stream and one in the evaluation window (the last 7)


def without_examples(run: Trajectory, empty: tuple[int, ...]) -> Trajectory:
    """``run`` as the trainer records a day without rows: no metric, nothing scored or trained,
    no evaluation sample, no CPU spent scoring."""
    logloss, scored, trained = run.logloss.copy(), run.eval_examples.copy(), run.trained.copy()
    logloss[list(empty)] = np.nan
    scored[list(empty)] = 0.0
    trained[list(empty)] = 0.0
    sample = {}
    for e, (sums, counts) in run.eval_sample.items():
        sums, counts = sums.copy(), counts.copy()
        sums[list(empty)], counts[list(empty)] = np.nan, 0.0
        sample[e] = (sums, counts)
    return Trajectory(
        logloss,
        run.auc,
        scored,
        trained,
        {},
        cpu=run.cpu,
        cpu_total=run.cpu_total,
        exit_cpu=run.exit_cpu,
        eval_cpu=run.eval_cpu,
        eval_sample=sample,
    )


@pytest.fixture(scope="module")
def gapped() -> m.Runs:
    world = make_world(N, T, seed=5)
    out = {}
    for c in range(N):
        for rate in (1.0, 0.05, 0.2):
            metrics, trained = world.curve(c, DataRange(0, T, rate))
            out[(c, rate)] = without_examples(synthetic_run(metrics, trained, c), EMPTY)
    return m.Runs(out, 7)


def test_every_method_runs_through_empty_days(gapped: m.Runs) -> None:
    rows = sq.evaluate(gapped, N, 12, 2, 0, None, eval_rates=(1.0, 0.1))
    for row in rows:
        s = row.summary()
        assert s["lost_trials_max"] == 0, (row.label, s["lost_reasons"])
        assert not s["all_lost"]
        assert np.isfinite(s["regret@3"]) and np.isfinite(s["reduction"]), row.label
        if row.name not in ("full search", sq.ORACLE, "random-k"):
            assert np.isfinite(s["tau"]), row.label  # it ranked what it scored
    # The full-horizon methods of the bug: their rankings mean something again (the truth
    # correlates with what they ranked by; before, every trial failed and τ was "–").
    by = {r.label: r.summary() for r in rows}
    for name in ("subsample s=0.2 + constant", "subsample s=0.2 + trajectory", "prefix t=30"):
        assert by[name]["tau"] > 0.3, name
    text = sq.render(rows, "gapped")
    assert sq.LOST_MARK not in text


def test_the_target_leaves_empty_days_out(gapped: m.Runs) -> None:
    run = gapped.full(3)
    days = [w for w in range(T - 7, T) if w not in EMPTY]
    assert len(days) == 6
    assert gapped.target(3) == pytest.approx(float(np.mean(run.logloss[days])))
    # A run that diverged is still the worst, empty days or not.
    broken = Trajectory(np.full(T, np.nan), np.full(T, np.nan), np.ones(T), np.zeros(T), {})
    assert broken.diverged() and np.isnan(broken.target(7))
    assert not gapped.full(3).diverged()
    # What a user reports at a position: the last windows with examples.
    assert run.recent(23, 3) == pytest.approx(float(np.mean(run.logloss[[18, 19, 22]])))
    # A crashed run (no windows recorded) is not a run of empty days.
    crashed = Trajectory.from_result({"status": "failed", "windows": []}, 4)
    assert crashed.failed and crashed.diverged() and not crashed.empty.any()


def test_a_row_that_lost_trials_says_so_and_is_no_verdict(gapped: m.Runs) -> None:
    rows = sq.evaluate(gapped, N, 12, 2, 0, "two-step s=0.05")
    ok = next(r for r in rows if r.name == "two-step s=0.05")
    # Two methods that lost trials to errors: some in one search, and every trial of a search.
    partly = sq.Row("subsample s=0.05 + constant", reduction=list(ok.reduction),
                    examples_reduction=list(ok.examples_reduction), cpu=list(ok.cpu),
                    stage1_cpu=list(ok.stage1_cpu), full_cpu=list(ok.full_cpu),
                    regret={k: [0.0, 0.0] for k in sq.KS}, tau=[0.9, 0.9],
                    lost=[0, 3], diverged=[0, 0], trials=[12, 12],
                    reasons={"reported garbage: x": 3})  # fmt: skip
    wholly = sq.Row("subsample s=0.2 + constant", reduction=list(ok.reduction),
                    examples_reduction=list(ok.examples_reduction), cpu=list(ok.cpu),
                    stage1_cpu=list(ok.stage1_cpu), full_cpu=list(ok.full_cpu),
                    regret={k: [0.0, 0.0] for k in sq.KS}, tau=[float("nan")] * 2,
                    lost=[12, 12], diverged=[0, 0], trials=[12, 12],
                    reasons={"reported garbage: reported a non-finite metric": 24})  # fmt: skip
    text = sq.render([*rows, partly, wholly], "lost")
    table = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    assert "1.5 of 12 (max 3)" in table[f"| **subsample s=0.05 + constant** {sq.LOST_MARK}"]
    whole = table[f"| **subsample s=0.2 + constant** {sq.LOST_MARK}"]
    name = f"| **subsample s=0.2 + constant** {sq.LOST_MARK} |"
    assert whole == name + " – |" * 8 + " 12.0 of 12 (max 12) |"
    assert "trials lost to errors" in text and '"reported garbage: x" ×3' in text
    # Regret 0 at a lower cost than every peer, but it lost trials: never the verdict.
    verdict = sq.verdict([r.summary() for r in [*rows, partly, wholly]])
    assert "subsample" not in verdict
    assert table["| two-step s=0.05"].endswith("| 0 |")


def test_search_quality_on_a_dataset_yaml_with_days_removed(tmp_path: Path) -> None:
    """`hypersearch bench search-quality --dataset` over a real (tiny) stream with two days
    removed: real trainer runs, every method replayed, no trial lost, the empty days named."""
    dataset = gapped_stream(tmp_path)
    out = tmp_path / "out"
    env = {**os.environ, "HYPERSEARCH_CACHE": str(tmp_path / "cache")}
    env = {k: v for k, v in env.items() if not k.startswith("HS_")}
    result = subprocess.run(
        [sys.executable, "-m", "hypersearch", "bench", "search-quality", "--dataset",
         str(dataset), "--configs", "3", "--subset", "3", "--repeats", "1", "--rates", "0.5",
         "--eval-rates", "1", "--eval-checks", "0", "--out", str(out)],
        capture_output=True, text=True, check=False, timeout=600, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads((out / "search-quality.json").read_text())
    assert doc["empty_windows"] == [2, 7]
    assert "2 windows without examples (2, 7)" in result.stdout
    rows = {r["method"]: r for r in doc["rows"]}
    for name, row in rows.items():
        assert row["lost_trials_max"] == 0, (name, row["lost_reasons"])
    for name in ("subsample s=0.5 + constant", "prefix t=8", "asha (full data)"):
        assert np.isfinite(rows[name]["regret@3"]) and np.isfinite(rows[name]["tau"]), name
    assert sq.LOST_MARK not in result.stdout


def test_the_old_bug_would_now_be_flagged(gapped: m.Runs, monkeypatch: pytest.MonkeyPatch) -> None:
    """Were empty days read as values again (the replay reporting their NaN), every
    full-horizon trial would fail at the first empty day, as in issue 16: those rows must then
    say that they lost every trial, show no figures, and stay out of the verdict."""
    monkeypatch.setattr(Curve, "is_empty", lambda self, i: False)
    evaluated = sq.evaluate(gapped, N, 12, 2, 0, "s=0.2")
    rows = {r.name: r.summary() for r in evaluated}
    broken = rows["subsample s=0.2 + constant"]
    assert broken["all_lost"] and broken["lost_trials"] == 12
    assert "non-finite metric (nan) for window 20" in next(iter(broken["lost_reasons"]))
    assert rows["two-step s=0.2"]["lost_trials_max"] == 0  # no engine, no trial to lose
    text = sq.render(evaluated, "bug")
    assert f"**subsample s=0.2 + constant** {sq.LOST_MARK} |" + " – |" * 8 + " 12.0 of" in text
    assert "subsample" not in text.split("At mean regret@3")[1]
