"""Parameters and flags: env vs flags, and exit code 2 naming the parameter at fault."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypersearch_trainer.config import parse_config
from hypersearch_trainer.errors import ConfigError

from tests.trainer.helpers import run_trainer


def test_env_and_flags_flags_win() -> None:
    env = {
        "HS_DATASET": "synth:sea",
        "HS_PARAM_lr": "0.2",
        "HS_PARAM_optimizer": "adam",
        "HS_PARAM_bottom_mlp": "32-16",
        "HS_DATA_RATE": "0.5",
        "HS_DATA_SAMPLING": "negatives",
        "HS_DATA_START": "2",
        "HS_DATA_STOP": "9",
        "HS_SEED": "11",
        "HS_METRICS_PORT": "9200",
    }
    cfg = parse_config(["--param", "lr=0.3", "--data-rate", "0.25"], env)
    assert cfg.params.lr == 0.3 and cfg.params.optimizer == "adam"
    assert cfg.params.bottom_widths == [32, 16]
    assert cfg.data_rate == 0.25 and cfg.data_sampling == "negatives"
    assert (cfg.data_start, cfg.data_stop, cfg.seed, cfg.metrics_port) == (2, 9, 11, 9200)
    assert cfg.eval_windows == 7 and cfg.metrics_host == "0.0.0.0"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"HS_PARAM_learning_rate": "0.1"}, "unknown hyperparameter 'learning_rate'"),
        ({"HS_PARAM_lr": "fast"}, "hyperparameter 'lr': expected a number"),
        ({"HS_PARAM_lr": "-1"}, "hyperparameter 'lr'"),
        ({"HS_PARAM_optimizer": "rmsprop"}, "hyperparameter 'optimizer'"),
        ({"HS_PARAM_batch_size": "12.5"}, "hyperparameter 'batch_size'"),
        ({"HS_PARAM_top_mlp": "64-x"}, "hyperparameter 'top_mlp'"),
        ({"HS_PARAM_dropout": "1.0"}, "hyperparameter 'dropout'"),
        ({"HS_DATA_RATE": "0"}, "HS_DATA_RATE"),
        ({"HS_DATA_SAMPLING": "positives"}, "HS_DATA_SAMPLING"),
        ({"HS_DATA_START": "5", "HS_DATA_STOP": "3"}, "HS_DATA_STOP"),
    ],
)
def test_bad_parameters_name_the_parameter(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        parse_config([], {"HS_DATASET": "synth:sea", **env})


def test_unknown_param_exits_2_from_the_process() -> None:
    r = run_trainer(HS_DATASET="synth:sea", HS_PARAM_lrr="0.1")
    assert r.returncode == 2
    assert "unknown hyperparameter 'lrr' (from HS_PARAM_lrr)" in r.stderr
    r = run_trainer("--param", "embedding_dim=big", HS_DATASET="synth:sea")
    assert r.returncode == 2 and "'embedding_dim'" in r.stderr


def test_stop_beyond_stream_is_an_error(tiny: Path) -> None:
    r = run_trainer(HS_DATASET=str(tiny), HS_DATA_STOP="9")
    assert r.returncode == 2 and "HS_DATA_STOP=9" in r.stderr and "6 windows" in r.stderr


def test_device_cuda_without_gpu_is_clear(tiny: Path, tmp_path: Path) -> None:
    import torch

    out = tmp_path / "r.json"
    r = run_trainer(HS_DATASET=str(tiny), HS_DEVICE="cuda", HS_RESULT_FILE=str(out))
    if torch.cuda.is_available():
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode == 2 and "cuda" in r.stderr
