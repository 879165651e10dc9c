"""The online loop: progressive validation order, resume = uninterrupted, SIGTERM behaviour."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from hypersearch_trainer.checkpoint import FILENAME, Checkpointer
from hypersearch_trainer.datasets import open_dataset
from hypersearch_trainer.exporter import TrainerMetrics
from hypersearch_trainer.loop import OnlineTrainer
from hypersearch_trainer.models import build_model
from hypersearch_trainer.optim import Optimizer
from hypersearch_trainer.params import HyperParams, parse_params
from hypersearch_trainer.sampling import Sampler

from tests.trainer.helpers import (
    free_port,
    make_stream,
    read_json,
    run_trainer,
    scrape,
    start_trainer,
    wait_for,
    write_yaml,
)

GRACE_SECONDS = 30  # Kubernetes' default terminationGracePeriodSeconds


def make_trainer(
    dataset: str, hp: HyperParams, ckpt_dir: Path | None = None, rate: float = 1.0
) -> OnlineTrainer:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    src = open_dataset(dataset)
    model = build_model(hp, len(src.categorical_names), len(src.numeric_names))
    return OnlineTrainer(
        src,
        model,
        Optimizer(model, hp),
        hp,
        Sampler(rate, "negatives", 3),
        TrainerMetrics(src.num_windows),
        Checkpointer(ckpt_dir, {"x": 1}),
        torch.device("cpu"),
        0,
        src.num_windows,
        eval_batch_size=128,
    )


COMPUTE = ("cpu_seconds", "gpu_seconds", "eval_cpu_seconds")  # differs between two processes


def metrics_of(t: OnlineTrainer) -> list[dict[str, Any]]:
    return [without_compute(r.as_dict()) for r in t.state.history]


def without_compute(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in COMPUTE}


def test_every_window_is_scored_before_it_is_trained(tiny: Path) -> None:
    hp = parse_params({"model": "dlrm", "batch_size": "64"})
    t = make_trainer(str(tiny), hp)
    events: list[tuple[str, int]] = []
    t.on_step = lambda phase, w: events.append((phase, w))
    assert t.run(lambda: False)
    for w in range(6):
        kinds = [p for p, ww in events if ww == w]
        assert kinds and kinds[0] == "eval" and "train" in kinds
        last_eval = max(i for i, e in enumerate(events) if e == ("eval", w))
        first_train = min(i for i, e in enumerate(events) if e == ("train", w))
        assert last_eval < first_train  # all of w scored before any training on it
        if w:  # and window w-1 was fully trained before w was scored
            assert max(i for i, e in enumerate(events) if e == ("train", w - 1)) < first_train
    # window 0 is scored by the untrained model: its loss is the initial model's loss
    fresh = make_trainer(str(tiny), hp)
    fresh.progressive_eval = True
    batches = list(next(iter(fresh.source.windows(0, 1))).batches())
    scores = fresh._evaluate(iter(batches), 0, lambda: False)
    assert scores is not None
    assert t.state.history[0].logloss == pytest.approx(float(scores.losses.mean()), rel=1e-9)


@pytest.mark.parametrize("model", ["dlrm", "fm"])
def test_resume_mid_window_equals_uninterrupted(tiny: Path, tmp_path: Path, model: str) -> None:
    hp = parse_params({"model": model, "batch_size": "32", "dropout": "0.1", "optimizer": "adam"})
    full = make_trainer(str(tiny), hp, rate=0.5)
    assert full.run(lambda: False)
    steps = {"n": 0}

    def stop_after_20_checks() -> bool:
        steps["n"] += 1
        return steps["n"] > 20

    first = make_trainer(str(tiny), hp, tmp_path / "ck", rate=0.5)
    assert not first.run(stop_after_20_checks)
    assert first.state.partial is not None  # stopped inside a window
    second = make_trainer(str(tiny), hp, tmp_path / "ck", rate=0.5)
    saved = second.ckpt.load()
    assert saved is not None
    second.load_state_dict(saved)
    assert second.run(lambda: False)
    assert metrics_of(second) == metrics_of(full)
    assert without_compute(second.metrics.snapshot()) == without_compute(full.metrics.snapshot())


def position_of(text: str) -> float:
    """The trainer's exported data position."""
    for line in text.splitlines():
        if line.startswith("hypersearch_trainer_position "):
            return float(line.split()[1])
    raise AssertionError("no hypersearch_trainer_position in the scrape")


def slow_stream(tmp_path: Path) -> Path:
    make_stream(tmp_path / "slow.parquet", days=12, rows_per_day=3000)
    return write_yaml(tmp_path / "slow.yaml", "slow.parquet")


def test_sigterm_checkpoints_and_resumed_process_matches(tmp_path: Path) -> None:
    ds = slow_stream(tmp_path)
    env = {
        "HS_DATASET": str(ds),
        "HS_PARAM_model": "dlrm",
        "HS_PARAM_batch_size": "8",
        "HS_DATA_RATE": "0.7",
        "HS_DATA_SAMPLING": "negatives",
        "HS_SEED": "5",
    }
    ref = tmp_path / "ref.json"
    r = run_trainer(HS_RESULT_FILE=str(ref), timeout=300, **env)
    assert r.returncode == 0, r.stderr

    out, ck, port = tmp_path / "out.json", tmp_path / "ck", free_port()
    p = start_trainer(
        HS_RESULT_FILE=str(out), HS_CHECKPOINT_DIR=str(ck), HS_METRICS_PORT=str(port),
        HS_METRICS_HOST="127.0.0.1", **env,
    )  # fmt: skip
    # SIGTERM in the middle of a window after the first three: the exported position is
    # fractional only while a window's training is under way.
    seen: list[float] = []

    def mid_window() -> bool:
        assert p.poll() is None, "the trainer ended before it could be interrupted"
        try:
            position = position_of(scrape(port))
        except OSError:
            return False  # not serving yet
        seen.append(position)
        return 3.0 < position < 11.0 and position != int(position)

    wait_for(mid_window, timeout=240, every=0.02)
    p.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    assert p.wait(timeout=GRACE_SECONDS) == 0  # exits 0 within the pod's grace period
    assert time.monotonic() - t0 < GRACE_SECONDS
    interrupted = read_json(out)
    assert interrupted["status"] == "interrupted"
    assert 3 <= len(interrupted["windows"]) < 12, seen
    saved = torch.load(ck / FILENAME, map_location="cpu", weights_only=False)
    partial = saved["loop"]["partial"]  # the checkpoint is mid-window, as intended
    assert partial is not None and partial["batches_done"] > 0, seen
    r = run_trainer(HS_RESULT_FILE=str(out), HS_CHECKPOINT_DIR=str(ck), timeout=300, **env)
    assert r.returncode == 0, r.stderr
    assert "resumed from" in r.stderr
    a, b = read_json(ref), read_json(out)
    assert b["status"] == "completed"
    assert [without_compute(w) for w in b["windows"]] == [without_compute(w) for w in a["windows"]]
    assert b["target"] == a["target"]
    assert b["examples_trained"] == a["examples_trained"]
    # the resumed run's cost continues the checkpointed one: both processes' compute is counted
    at_checkpoint = interrupted["windows"][-1]["cpu_seconds"]
    assert b["windows"][len(interrupted["windows"]) - 1]["cpu_seconds"] == at_checkpoint
    assert b["cpu_seconds"] > at_checkpoint


def test_checkpoint_of_another_run_is_refused(tiny: Path, tmp_path: Path) -> None:
    ck = tmp_path / "ck"
    r = run_trainer(HS_DATASET=str(tiny), HS_CHECKPOINT_DIR=str(ck), HS_PARAM_lr="0.1")
    assert r.returncode == 0, r.stderr
    r = run_trainer(HS_DATASET=str(tiny), HS_CHECKPOINT_DIR=str(ck), HS_PARAM_lr="0.2")
    assert r.returncode == 2 and "different run" in r.stderr and "parameters" in r.stderr
