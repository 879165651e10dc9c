"""Starting and stopping child processes so that none outlives the harness.

Every child gets its own process group (stopping it stops its children too) and, on Linux, a
parent-death signal, so a harness killed with SIGKILL still takes its cluster down with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if os.name == "posix" else None


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: SIGKILL it when its parent thread dies."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(
    argv: Sequence[str],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    die_with_parent: bool = True,
) -> subprocess.Popen[bytes]:
    """Starts argv in a new session with stdout and stderr appended to log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    out: IO[bytes] = open(log, "ab")  # noqa: SIM115 - the child keeps it; closed below
    try:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent if die_with_parent else None,
        )
    finally:
        out.close()


def signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Sends sig to the process group of proc (its children included); gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def stop(proc: subprocess.Popen[bytes], grace: float = 5.0) -> int | None:
    """SIGTERM the group, wait up to grace seconds, then SIGKILL; returns the exit code."""
    if proc.poll() is None:
        signal_group(proc, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    # Children of the group may still linger even when the leader has exited.
    signal_group(proc, signal.SIGKILL)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return None
    return proc.returncode


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file, for failure reports."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 200 * lines))
            text = f.read().decode(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    """Polls a zero-argument callable until it returns truthy or timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
