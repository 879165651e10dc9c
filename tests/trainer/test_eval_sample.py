"""The evaluation sample (HS_EVAL_RATE): paired across trials, nested across rates, and exactly
what a fully scored run records for that rate; stage 2 scores its evaluation windows in full."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypersearch_trainer.datasets import open_dataset
from hypersearch_trainer.sampling import RowSelection, Sampler

from tests.trainer.helpers import make_stream, read_json, run_trainer, write_yaml


@pytest.fixture
def stream(tmp_path: Path) -> Path:
    make_stream(tmp_path / "s.parquet", days=5, rows_per_day=3000)
    return write_yaml(tmp_path / "s.yaml", "s.parquet")


def run(tmp_path: Path, ds: Path, name: str, **env: str) -> dict:  # type: ignore[type-arg]
    out = tmp_path / f"{name}.json"
    r = run_trainer(HS_DATASET=str(ds), HS_RESULT_FILE=str(out), HS_SEED="11", **env)
    assert r.returncode == 0, r.stderr
    return read_json(out)


def test_every_trial_scores_the_same_examples_and_samples_are_nested(
    tmp_path: Path, stream: Path
) -> None:
    src = open_dataset(str(stream))
    scored: dict[tuple[float, str], list[np.ndarray]] = {}
    for rate in (0.1, 0.3):
        for trial, train_rate in (("a", 0.05), ("b", 0.5)):  # two trials of one search
            sel = RowSelection(Sampler(train_rate, "negatives", 11), lambda _w, r=rate: r)
            ids = []
            for window in src.windows(0, src.num_windows, sel):
                batch_ids = np.concatenate([b.example_ids for b in window.batches()])
                ids.append(batch_ids[sel.sampler.scored(batch_ids, rate)])
            scored[(rate, trial)] = ids
    for rate in (0.1, 0.3):
        for a, b in zip(scored[(rate, "a")], scored[(rate, "b")], strict=True):
            np.testing.assert_array_equal(a, b)  # paired: identical examples for every trial
    for small, large in zip(scored[(0.1, "a")], scored[(0.3, "a")], strict=True):
        assert 0 < len(small) < len(large)
        assert set(small.tolist()) <= set(large.tolist())  # nested


def test_sampled_scores_equal_the_full_runs_record_of_that_sample(
    tmp_path: Path, stream: Path
) -> None:
    common = {"HS_PARAM_model": "fm", "HS_DATA_RATE": "0.3", "HS_PARAM_batch_size": "64"}
    full = run(tmp_path, stream, "full", **common)
    sampled = run(tmp_path, stream, "sampled", HS_EVAL_RATE="0.1", **common)
    assert sampled["examples_trained"] == full["examples_trained"]  # eval never changes training
    for f, s in zip(full["windows"], sampled["windows"], strict=True):
        loss_sum, n = f["eval_sample"]["0.1"]
        assert s["examples"] == n and 0 < n < f["examples"]
        assert s["loss_sum"] == pytest.approx(loss_sum, rel=1e-9)
    assert sampled["examples_evaluated"] < 0.2 * full["examples_evaluated"]


def test_stage2_scores_its_evaluation_windows_in_full(tmp_path: Path, stream: Path) -> None:
    full = run(tmp_path, stream, "full", HS_PARAM_model="lr", HS_EVAL_WINDOWS="2")
    env = {"HS_PARAM_model": "lr", "HS_EVAL_RATE": "0.1", "HS_EVAL_WINDOWS": "2"}
    stage2 = run(tmp_path, stream, "stage2", HS_STAGE="2", **env)
    stage1 = run(tmp_path, stream, "stage1", HS_STAGE="1", **env)
    counts = [w["examples"] for w in full["windows"]]
    assert [w["examples"] for w in stage2["windows"]][-2:] == counts[-2:]
    assert all(w["examples"] < c for w, c in zip(stage2["windows"][:-2], counts, strict=False))
    assert stage2["target"]["logloss"] == pytest.approx(full["target"]["logloss"], rel=1e-9)
    assert all(w["examples"] < c for w, c in zip(stage1["windows"], counts, strict=True))


@pytest.mark.parametrize("bad", ["0", "1.5", "-0.1", "abc"])
def test_an_evaluation_rate_outside_0_1_is_a_clear_error(
    tmp_path: Path, stream: Path, bad: str
) -> None:
    r = run_trainer(HS_DATASET=str(stream), HS_EVAL_RATE=bad)
    assert r.returncode == 2
    assert "HS_EVAL_RATE" in r.stderr and "(0, 1]" in r.stderr
