"""Run configuration from command-line flags and ``HS_*`` environment variables (flags win).

Executors drive the trainer with environment variables only (docs/design.md §3), so a user's own trainer
can take part by reading the same names; the flags exist for people at a terminal.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from hypersearch_trainer.errors import ConfigError
from hypersearch_trainer.params import HyperParams, parse_params
from hypersearch_trainer.sampling import SAMPLING_KINDS

T = TypeVar("T")

# option name → (environment variable, help)
OPTIONS: dict[str, tuple[str, str]] = {
    "dataset": ("HS_DATASET", "flights-3m | path/to/dataset.yaml | criteo:DIR | synth:NAME[?opts]"),
    "prepared_data": (
        "HS_PREPARED_DATA",
        "directory or s3:// URL of prepared data (decoded and hashed once, read at the run's rate; "
        "prepared on first use)",
    ),
    "data_rate": ("HS_DATA_RATE", "sub-sampling rate in (0, 1] (default 1)"),
    "data_sampling": ("HS_DATA_SAMPLING", "uniform | negatives (default uniform)"),
    "eval_rate": (
        "HS_EVAL_RATE",
        "fraction of each window scored, a seeded hash sample shared by all trials, in (0, 1] "
        "(default 1; a stage-2 run scores its evaluation windows in full whatever the rate)",
    ),
    "data_start": ("HS_DATA_START", "first window index, 0-based (default 0)"),
    "data_stop": ("HS_DATA_STOP", "window index to stop before (default: end of stream)"),
    "seed": ("HS_SEED", "sampling seed shared by all trials of a search (default 0)"),
    "metrics_port": ("HS_METRICS_PORT", "Prometheus port (default 9100; 0 disables)"),
    "metrics_host": ("HS_METRICS_HOST", "bind address of the exporter (default 0.0.0.0)"),
    "metrics_windows": (
        "HS_METRICS_WINDOWS",
        "the last N completed windows served as per-window gauges (default 64)",
    ),
    "metrics_linger": ("HS_METRICS_LINGER", "seconds to keep serving metrics after finishing"),
    "checkpoint_dir": ("HS_CHECKPOINT_DIR", "directory for the checkpoint (default: none)"),
    "checkpoint_every": ("HS_CHECKPOINT_EVERY", "min seconds between window checkpoints (30)"),
    "trial": ("HS_TRIAL", "trial name (reported in metrics and result)"),
    "stage": ("HS_STAGE", "search stage (reported in metrics and result)"),
    "result_file": ("HS_RESULT_FILE", "path of the final JSON result"),
    "eval_windows": (
        "HS_EVAL_WINDOWS",
        "K: the target metric is the mean of the last K windows (7)",
    ),
    "device": ("HS_DEVICE", "auto | cpu | cuda (default auto)"),
    "threads": ("HS_THREADS", "torch CPU threads (default: CPUs available to the process)"),
}


@dataclass
class RunConfig:
    """Everything that defines one trainer run."""

    dataset: str
    params: HyperParams = field(default_factory=HyperParams)
    prepared_data: str | None = None
    data_rate: float = 1.0
    data_sampling: str = "uniform"
    eval_rate: float = 1.0
    data_start: int = 0
    data_stop: int | None = None
    seed: int = 0
    metrics_port: int = 9100
    metrics_host: str = "0.0.0.0"
    metrics_windows: int = 64  # the executor keeps the history (docs/trainer.md)
    metrics_linger: float = 0.0
    checkpoint_dir: Path | None = None
    checkpoint_every: float = 30.0
    trial: str = ""
    stage: str = ""
    result_file: Path | None = None
    eval_windows: int = 7
    device: str = "auto"
    threads: int = 0
    eval_batch_size: int = 65536
    quiet: bool = False


def _conv(
    name: str, env: str, fn: Callable[[str], T], check: Callable[[T], bool], what: str
) -> Callable[[str], T]:
    def conv(raw: str) -> T:
        try:
            v = fn(raw)
        except ValueError:
            raise ConfigError(
                f"{env} / --{name.replace('_', '-')}: expected {what}, got {raw!r}"
            ) from None
        if not check(v):
            raise ConfigError(f"{env} / --{name.replace('_', '-')}: expected {what}, got {raw!r}")
        return v

    return conv


def _int(raw: str) -> int:
    return int(raw.strip())


CONVERTERS: dict[str, Callable[[str], Any]] = {
    "dataset": str,
    "prepared_data": str,
    "data_rate": _conv("data_rate", "HS_DATA_RATE", float, lambda v: 0.0 < v <= 1.0, "a number in (0, 1]"),
    "data_sampling": _conv("data_sampling", "HS_DATA_SAMPLING", lambda s: s.strip().lower(),
                           lambda v: v in SAMPLING_KINDS, "uniform or negatives"),
    "eval_rate": _conv("eval_rate", "HS_EVAL_RATE", float, lambda v: 0.0 < v <= 1.0, "a number in (0, 1]"),
    "data_start": _conv("data_start", "HS_DATA_START", _int, lambda v: v >= 0, "an integer >= 0"),
    "data_stop": _conv("data_stop", "HS_DATA_STOP", _int, lambda v: v >= 1, "an integer >= 1"),
    "seed": _conv("seed", "HS_SEED", _int, lambda v: True, "an integer"),
    "metrics_port": _conv("metrics_port", "HS_METRICS_PORT", _int, lambda v: 0 <= v <= 65535, "a port 0..65535"),
    "metrics_host": str,
    "metrics_windows": _conv("metrics_windows", "HS_METRICS_WINDOWS", _int, lambda v: v >= 1, "an integer >= 1"),
    "metrics_linger": _conv("metrics_linger", "HS_METRICS_LINGER", float, lambda v: v >= 0, "seconds >= 0"),
    "checkpoint_dir": lambda s: Path(s).expanduser(),
    "checkpoint_every": _conv("checkpoint_every", "HS_CHECKPOINT_EVERY", float, lambda v: v >= 0, "seconds >= 0"),
    "trial": str,
    "stage": str,
    "result_file": lambda s: Path(s).expanduser(),
    "eval_windows": _conv("eval_windows", "HS_EVAL_WINDOWS", _int, lambda v: v >= 1, "an integer >= 1"),
    "device": _conv("device", "HS_DEVICE", lambda s: s.strip().lower(), lambda v: v in ("auto", "cpu", "cuda"),
                    "auto, cpu or cuda"),
    "threads": _conv("threads", "HS_THREADS", _int, lambda v: v >= 0, "an integer >= 0"),
}  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """Flags mirror the environment variables (see docs/trainer.md)."""
    ap = argparse.ArgumentParser(
        prog="hypersearch-trainer",
        description="Online training with progressive validation on a drifting stream.",
    )
    for name, (env, help_text) in OPTIONS.items():
        ap.add_argument(f"--{name.replace('_', '-')}", dest=name, default=None,
                        help=f"{help_text} [env {env}]")  # fmt: skip
    ap.add_argument(
        "--param", "-p", action="append", default=[], metavar="NAME=VALUE",
        help="hyperparameter (repeatable) [env HS_PARAM_<NAME>]",
    )  # fmt: skip
    ap.add_argument("--quiet", "-q", action="store_true", help="only log errors")
    return ap


def parse_config(argv: Sequence[str], env: Mapping[str, str]) -> RunConfig:
    """Merge environment and flags into a validated ``RunConfig``."""
    args = build_parser().parse_args(list(argv))
    values: dict[str, Any] = {}
    for name, (env_name, _) in OPTIONS.items():
        raw = getattr(args, name)
        if raw is None:
            raw = env.get(env_name) or None
        if raw is not None:
            values[name] = CONVERTERS[name](raw)
    raw_params: dict[str, str] = {}
    origin: dict[str, str] = {}
    for key, val in env.items():
        if key.startswith("HS_PARAM_"):
            name = key[len("HS_PARAM_") :]
            raw_params[name], origin[name] = val, key
    for item in args.param:
        name, sep, val = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--param {item!r}: expected NAME=VALUE")
        raw_params[name.strip()], origin[name.strip()] = val, f"--param {item}"
    params = parse_params(raw_params, origin)
    if "dataset" not in values:
        raise ConfigError("no dataset given: set HS_DATASET or --dataset")
    cfg = RunConfig(params=params, quiet=bool(args.quiet), **values)
    if cfg.data_stop is not None and cfg.data_stop <= cfg.data_start:
        raise ConfigError(
            f"HS_DATA_STOP ({cfg.data_stop}) must be greater than HS_DATA_START ({cfg.data_start})"
        )
    return cfg
