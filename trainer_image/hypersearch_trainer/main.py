"""Entry point: wire config, data, model, exporter and checkpoints together; map errors to exit codes."""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from hypersearch_trainer.errors import EXIT_INTERNAL, EXIT_OK, TrainerError

if TYPE_CHECKING:  # the fork-server client path must stay light: no numpy, pyarrow or torch
    from hypersearch_trainer.config import RunConfig

log = logging.getLogger("hypersearch_trainer")


def available_cpus() -> int:
    """CPUs this process may use: affinity mask capped by a cgroup v2 CPU quota (pod limits)."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        with open("/sys/fs/cgroup/cpu.max") as fh:
            quota, period = fh.read().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def forked_base_cpu() -> float:
    """CPU spent for this run before it began: a fork server's start-up and its client's
    (see forkserver.py); 0 for a process of its own."""
    from hypersearch_trainer.forkserver import STARTUP_ENV

    try:
        return max(0.0, float(os.environ.get(STARTUP_ENV, "0")))
    except ValueError:
        return 0.0


def full_eval_windows(cfg: RunConfig, num_windows: int) -> range:
    """Windows scored in full whatever ``HS_EVAL_RATE``: a stage-2 run's evaluation windows, whose
    metric decides the winner."""
    if cfg.stage.strip() != "2":
        return range(0)
    return range(max(0, num_windows - cfg.eval_windows), num_windows)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run one trial; returns the process exit code (0 also after a graceful SIGTERM)."""
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ if env is None else env
    if env.get("HS_FORKSERVER", "0").lower() not in ("", "0", "false", "no"):
        # run in a child of a warm process (see forkserver.py)
        from hypersearch_trainer.forkserver import run_client

        try:
            return run_client(env["HS_FORKSERVER"], list(argv))
        except (RuntimeError, OSError) as exc:  # no server could be reached or started
            print(f"hypersearch-trainer: error: {exc}", file=sys.stderr)
            return EXIT_INTERNAL
    stop_event = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.warning("signal %d: stopping at the next safe point", signum)
        stop_event.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    try:
        return run(argv, env, stop_event)
    except TrainerError as exc:
        print(f"hypersearch-trainer: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception:
        log.exception("internal error")
        return EXIT_INTERNAL


def run(argv: Sequence[str], env: Mapping[str, str], stop_event: threading.Event) -> int:
    """The body of ``main`` (separate so errors are mapped in one place)."""
    from hypersearch_trainer.config import parse_config

    if argv and argv[0] == "prepare":
        return prepare_command(argv[1:], env)
    cfg = parse_config(argv, env)
    try:
        return _run(cfg, stop_event)
    except TrainerError as exc:
        if cfg.result_file is not None:  # tell the executor why, not only the exit code
            from hypersearch_trainer.result import write_result

            doc = {"status": "failed", "error": str(exc), "exit_code": exc.exit_code,
                   "trial": cfg.trial, "stage": cfg.stage}  # fmt: skip
            write_result(cfg.result_file, doc)
        raise


def prepare_command(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """``hypersearch-trainer prepare --dataset D --seed S --prepared-data ROOT``: prepare once."""
    from hypersearch_trainer.config import parse_config
    from hypersearch_trainer.datasets import open_dataset
    from hypersearch_trainer.errors import ConfigError
    from hypersearch_trainer.prepared import prepare

    cfg = parse_config(argv, env)
    if not cfg.prepared_data:
        raise ConfigError(
            "prepare: set HS_PREPARED_DATA or --prepared-data (directory or s3:// URL)"
        )
    print(prepare(open_dataset(cfg.dataset), cfg.seed, cfg.prepared_data))
    return EXIT_OK


def _run(cfg: RunConfig, stop_event: threading.Event) -> int:
    """Train with a validated configuration."""
    logging.basicConfig(
        level=logging.ERROR if cfg.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    import torch

    from hypersearch_trainer.checkpoint import Checkpointer
    from hypersearch_trainer.compute import ComputeMeter
    from hypersearch_trainer.datasets import open_dataset
    from hypersearch_trainer.errors import ConfigError
    from hypersearch_trainer.exporter import TrainerMetrics, serve
    from hypersearch_trainer.loop import OnlineTrainer
    from hypersearch_trainer.models import build_model
    from hypersearch_trainer.optim import Optimizer
    from hypersearch_trainer.result import build_result, write_result
    from hypersearch_trainer.sampling import Sampler
    from hypersearch_trainer.sources import Source

    torch.set_num_threads(cfg.threads or available_cpus())
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("HS_DEVICE / --device: cuda requested but no CUDA device is available")
    use_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if use_cuda else "cpu")

    source: Source = open_dataset(cfg.dataset, index=not cfg.prepared_data)
    if cfg.prepared_data:
        from hypersearch_trainer.prepared import open_prepared

        source = open_prepared(source, cfg.prepared_data, cfg.seed)
    stop = source.num_windows if cfg.data_stop is None else cfg.data_stop
    if stop > source.num_windows:
        raise ConfigError(
            f"HS_DATA_STOP={stop} is beyond the stream, which has {source.num_windows} windows"
        )
    if cfg.data_start >= stop:
        raise ConfigError(f"HS_DATA_START={cfg.data_start} leaves no window (stream has {stop})")
    hp = cfg.params
    identity: dict[str, Any] = {
        "trial": cfg.trial,
        "stage": cfg.stage,
        "dataset": source.name,
        "parameters": hp.as_dict(),
        "data": {
            "rate": cfg.data_rate,
            "sampling": cfg.data_sampling,
            "seed": cfg.seed,
            "start": cfg.data_start,
            "stop": stop,
            "eval_rate": cfg.eval_rate,
        },
    }
    fingerprint = {"dataset": source.name, "parameters": hp.as_dict(), "data": identity["data"]}
    torch.manual_seed(cfg.seed)
    model = build_model(hp, len(source.categorical_names), len(source.numeric_names))
    model.to(device)
    optimizer = Optimizer(model, hp)
    metrics = TrainerMetrics(
        source.num_windows,
        cfg.metrics_windows,
        {"trial": cfg.trial, "stage": cfg.stage, "model": hp.model},
        ComputeMeter(gpus=1 if use_cuda else 0, base_cpu=forked_base_cpu()),
    )
    ckpt = Checkpointer(cfg.checkpoint_dir, fingerprint)
    trainer = OnlineTrainer(
        source, model, optimizer, hp, Sampler(cfg.data_rate, cfg.data_sampling, cfg.seed),
        metrics, ckpt, device, cfg.data_start, stop, cfg.eval_batch_size, cfg.checkpoint_every,
        eval_rate=cfg.eval_rate, full_eval_windows=full_eval_windows(cfg, source.num_windows),
    )  # fmt: skip
    saved = ckpt.load()
    if saved is not None:
        trainer.load_state_dict(saved)
        log.info("resumed from %s at window %d", ckpt.path, trainer.state.next_window)
    else:
        metrics.set_position(float(cfg.data_start))
    server = serve(metrics, cfg.metrics_port, cfg.metrics_host)
    if server is not None:
        log.info("metrics on http://%s:%d/metrics", cfg.metrics_host, cfg.metrics_port)

    finished = trainer.run(stop_event.is_set)
    status = "completed" if finished else "interrupted"
    if finished:
        metrics.set_done()
    if cfg.result_file is not None:
        doc = build_result(
            status=status,
            cfg=identity,
            history=trainer.state.history,
            num_windows=source.num_windows,
            eval_windows=cfg.eval_windows,
            examples_trained=metrics.snapshot()["train_examples"],
            wall_time_s=trainer.state.elapsed_s,
            position=metrics.position,
            device=str(device),
            compute=metrics.compute.snapshot(),
        )
        write_result(cfg.result_file, doc)
    log.info("%s after %.1fs", status, trainer.state.elapsed_s)
    if finished and server is not None and cfg.metrics_linger > 0:
        deadline = time.monotonic() + cfg.metrics_linger
        while not stop_event.is_set() and time.monotonic() < deadline:
            stop_event.wait(0.2)
    if server is not None:
        server.shutdown()
    return EXIT_OK
