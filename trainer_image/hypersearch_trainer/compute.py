"""What a run costs in the units users pay: CPU-seconds of the process tree, GPU-seconds.

CPU time is user + system time of every thread of this process since it started (interpreter and
torch import included; ``time.process_time``, nanosecond resolution) plus that of its waited-for
children (``getrusage``). Not ``os.times``: in a process with torch's threads it took ~2 ms a
call here, a measurable share of a small run. GPU time is wall time × GPUs in use, counted from
the moment the run's meter is made (after the model is placed on its device). A run resumed
from a checkpoint continues the counters of the checkpoint (work done after the checkpoint by the
process that died is lost from the count, as it is from the run).
"""

from __future__ import annotations

import resource
import threading
import time


def process_cpu_seconds() -> float:
    """User + system CPU seconds of this process and its reaped children."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


class ComputeMeter:
    """Cumulative CPU- and GPU-seconds of one run, readable from any thread."""

    def __init__(self, gpus: int = 0, base_cpu: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._cpu_base = base_cpu
        self._gpu_base = 0.0
        self.gpus = gpus
        self._gpu_since = time.monotonic()

    def restore(self, cpu_seconds: float, gpu_seconds: float) -> None:
        """Continue from a checkpoint's counters: what this process spent so far adds to them."""
        with self._lock:
            self._cpu_base += cpu_seconds
            self._gpu_base = gpu_seconds

    def cpu_seconds(self) -> float:
        with self._lock:
            return self._cpu_base + process_cpu_seconds()

    def gpu_seconds(self) -> float:
        with self._lock:
            return self._gpu_base + self.gpus * (time.monotonic() - self._gpu_since)

    def snapshot(self) -> dict[str, float]:
        return {"cpu_seconds": self.cpu_seconds(), "gpu_seconds": self.gpu_seconds()}
