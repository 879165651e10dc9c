"""One trial process: its own process group, output to a log file, SIGTERM then SIGKILL.

A process group per trial lets a stop reach the trainer's children too, and keeps a terminal's
Ctrl-C from hitting trials before the runner has decided what to do. On Linux the trial also
gets SIGTERM if the runner dies abruptly (PR_SET_PDEATHSIG), so a killed runner leaves no
trainer behind, and the trainer still checkpoints on its way out.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _child_setup() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None

    def setup() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return setup


class TrialProcess:
    """A running trial command; poll it, stop it, read the tail of its log."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path, cwd: str | None):
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in wait()/poll()
        self.started = time.monotonic()
        self._term_sent: float | None = None
        try:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_child_setup(),
            )
        except OSError:
            self._log.close()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def poll(self) -> int | None:
        rc = self.proc.poll()
        if rc is not None:
            self._reap_group()
            self._log.close()
        return rc

    def terminate(self) -> None:
        """Ask the whole group to stop (the trainer checkpoints and exits at a safe point)."""
        if self._term_sent is None:
            self._term_sent = time.monotonic()
            self._signal(signal.SIGTERM)

    def escalate(self, grace: float) -> None:
        """SIGKILL the group once ``grace`` seconds have passed since SIGTERM."""
        if self._term_sent is not None and time.monotonic() - self._term_sent >= grace:
            self._signal(signal.SIGKILL)

    def kill_and_wait(self, grace: float) -> int:
        """Stop now: SIGTERM, wait up to ``grace`` seconds, then SIGKILL; returns the code."""
        self.terminate()
        try:
            rc = self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            rc = self.proc.wait()
        self._reap_group()
        self._log.close()
        return rc

    def _reap_group(self) -> None:
        # Children that outlive the leader would be orphans; the group id is still theirs.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def log_tail(self, lines: int = 3) -> str:
        """The last lines of the trial's output, to explain a failure."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 4096))
                text = f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        tail = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return " | ".join(tail[-lines:])
