"""A trial's process environment on this machine: the template's env, the engine's protocol
variables, where to serve and write, and what makes small trials cheap locally."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from hypersearch.local.command import LocalCommand
from hypersearch.monitor import executor_env


def cache_dir() -> Path:
    """The machine's HyperSearch cache (prepared data lives there, shared by all searches)."""
    default = Path.home() / ".cache" / "hypersearch"
    return Path(os.environ.get("HYPERSEARCH_CACHE", str(default))).expanduser()


def free_port() -> int:
    """A port nobody listens on right now (the trainer binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def process_env(
    command: LocalCommand,
    protocol_env: dict[str, str],
    port: int,
    trial_dir: Path,
    interval: float,
    device: str | None,
    threads: int | None,
) -> dict[str, str]:
    """The environment of one trial process (the caller's shell, then the template's env, then
    the protocol; what makes trials cheap only where neither the shell nor the template set it)."""
    env = dict(os.environ)
    env.update(command.env)
    env.update(protocol_env)
    ours = executor_env(
        port, str(trial_dir / "checkpoint"), str(trial_dir / "result.json"), interval
    )
    linger = ours.pop("HS_METRICS_LINGER")
    env.update(ours)
    env.update({"HS_METRICS_HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1"})
    # Keep serving a little after the end, so the last windows are scraped before exit.
    env.setdefault("HS_METRICS_LINGER", linger)
    # What makes small trials cheap on one machine (a trainer that doesn't know them ignores
    # them): data decoded and hashed once for all trials, and trials forked from one warm
    # process instead of each importing torch. The manifest's env or the caller's win.
    env.setdefault("HS_PREPARED_DATA", str(cache_dir() / "prepared"))
    env.setdefault("HS_FORKSERVER", "1")
    if device is not None:
        env["CUDA_VISIBLE_DEVICES"] = device
    elif threads:
        for name in ("HS_THREADS", "OMP_NUM_THREADS"):
            if name not in command.env:
                env[name] = str(threads)
    return env


__all__ = ["cache_dir", "free_port", "process_env"]
