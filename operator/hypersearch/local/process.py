"""One trial process: its own process group, output to a log file, SIGTERM then SIGKILL.

A process group per trial lets a stop reach the trainer's children too, and keeps a terminal's
Ctrl-C from hitting trials before the runner has decided what to do. On Linux the trial also
gets SIGTERM if the runner dies abruptly (PR_SET_PDEATHSIG), so a killed runner leaves no
trainer behind, and the trainer still checkpoints on its way out.

The process's CPU time is measured for trainers that don't export their own compute counters:
while it runs from ``/proc/<pid>/stat`` (user + system time of the process and of the children
it has waited for), and exactly at exit from the rusage ``os.wait4`` returns when the runner
reaps it (the same figures, final, including every descendant that was waited for).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

PR_SET_PDEATHSIG = 1
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime + cutime + cstime of a live process, in seconds; None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) may contain spaces: the fields after it follow the last ")".
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # fields 14-17 of proc(5)
    except (IndexError, ValueError):
        return None
    return ticks / CLOCK_TICKS


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
        self.ended: float | None = None
        self.rusage: resource.struct_rusage | None = None  # set when reaped
        self._last_cpu: float | None = None
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
        rc = self._wait4(block=False)
        if rc is not None:
            self._reap_group()
            self._log.close()
        return rc

    def _wait4(self, block: bool) -> int | None:
        """Reap the process with ``os.wait4`` (keeping its rusage); None while it runs."""
        if self.proc.returncode is not None:
            return self.proc.returncode
        try:
            pid, status, usage = os.wait4(self.proc.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere: the exit code is all that is left
            return self.proc.wait() if block else self.proc.poll()
        if pid == 0:
            return None
        self.rusage = usage
        self.ended = time.monotonic()
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        return self.proc.returncode

    def _wait(self, timeout: float | None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            rc = self._wait4(block=False)
            if rc is not None or (deadline is not None and time.monotonic() >= deadline):
                return rc
            time.sleep(0.02)

    def cpu_seconds(self) -> float | None:
        """CPU-seconds (user + system) used so far: exact from rusage once it has exited."""
        if self.rusage is not None:
            return self.rusage.ru_utime + self.rusage.ru_stime
        if self.proc.returncode is None:
            now = proc_cpu_seconds(self.proc.pid)
            if now is not None:
                self._last_cpu = now
        return self._last_cpu

    def wall_seconds(self) -> float:
        """Seconds from the start to the exit (or to now)."""
        return (self.ended if self.ended is not None else time.monotonic()) - self.started

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
        rc = self._wait(grace)
        if rc is None:
            self._signal(signal.SIGKILL)
            rc = self._wait4(block=True)
            assert rc is not None
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
