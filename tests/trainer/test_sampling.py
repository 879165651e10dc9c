"""Negative sub-sampling with 1/s weights keeps the logloss unbiased."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypersearch_trainer.features import ROW_BITS
from hypersearch_trainer.metrics import weighted_logloss
from hypersearch_trainer.sampling import Sampler

from tests.trainer.helpers import make_stream, read_json, run_trainer, write_yaml


def test_weighted_logloss_of_kept_examples_is_unbiased() -> None:
    rng = np.random.default_rng(0)
    n = 200_000
    labels = (rng.random(n) < 0.1).astype(np.float32)
    p = np.clip(0.1 + 0.05 * rng.standard_normal(n), 0.01, 0.99)
    losses = -(labels * np.log(p) + (1 - labels) * np.log(1 - p))
    full = float(losses.mean())
    ids = np.arange(n, dtype=np.int64) + (3 << ROW_BITS)
    estimates = []
    for seed in range(20):
        keep, w = Sampler(0.1, "negatives", seed).keep(ids, labels)
        estimates.append(weighted_logloss(losses[keep], w[keep]))
        naive = float(losses[keep].mean())
    assert abs(np.mean(estimates) - full) / full < 0.002
    assert abs(naive - full) / full > 0.3  # without weights the estimate is far off


def test_training_on_sampled_negatives_keeps_logloss_and_calibration(tmp_path: Path) -> None:
    make_stream(tmp_path / "s.parquet", days=8, rows_per_day=4000, drift=False)
    ds = write_yaml(tmp_path / "s.yaml", "s.parquet")
    results = {}
    for rate in ("1", "0.2"):
        out = tmp_path / f"r{rate}.json"
        r = run_trainer(
            HS_DATASET=str(ds),
            HS_RESULT_FILE=str(out),
            HS_DATA_RATE=rate,
            HS_DATA_SAMPLING="negatives",
            HS_PARAM_model="lr",
            HS_PARAM_lr="0.05",
            HS_PARAM_batch_size="256",
            HS_EVAL_WINDOWS="3",
        )
        assert r.returncode == 0, r.stderr
        results[rate] = read_json(out)
    full, sampled = results["1"], results["0.2"]
    assert sampled["examples_trained"] < 0.5 * full["examples_trained"]
    assert sampled["examples_evaluated"] == full["examples_evaluated"]  # eval never sub-sampled
    rel = abs(sampled["target"]["logloss"] - full["target"]["logloss"]) / full["target"]["logloss"]
    assert rel < 0.05, (sampled["target"], full["target"])
    # calibration: with 1/s weights the mean prediction tracks the true click rate
    for w in sampled["windows"][-3:]:
        ratio = w["mean_prediction"] / (w["positives"] / w["examples"])
        assert 0.9 < ratio < 1.1, w
