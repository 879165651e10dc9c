"""When a trial is unhealthy: judged by time, the same way for processes and pods.

A trainer may be slow to start (importing torch on a busy node), may miss a few scrapes, and
may pause; it fails only when its endpoint has stayed silent past the start-up deadline, has
failed ``max_failures`` scrapes in a row for at least ``failure_seconds``, or has made no
progress (position and examples unchanged) for ``progress_seconds``. The operator applies the
pod-level deadlines too (Pending, Terminating, a workload's missing condition).

Every deadline a trial misses makes its reason start with the deadline's name
(``ProgressDeadlineExceeded: ...``), so the reason, the Event and the search's
``DeadlineExceeded`` condition all name it, and :func:`deadline_of` reads it back after a
restart without any extra state.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hypersearch.spec.model import DeadlineSpec

if TYPE_CHECKING:  # annotations only
    from hypersearch.monitor.watch import TrialWatch

PENDING = "PendingDeadlineExceeded"
CANNOT_START = "CannotStart"
STARTUP = "StartupDeadlineExceeded"
SCRAPES = "ScrapeDeadlineExceeded"
PROGRESS = "ProgressDeadlineExceeded"
WORKLOAD = "WorkloadDeadlineExceeded"
DEADLINES = (PENDING, CANNOT_START, STARTUP, SCRAPES, PROGRESS, WORKLOAD)
_CODE = re.compile(r"^([A-Z][A-Za-z]+): ")


def deadline_of(reason: str) -> str | None:
    """The deadline a failure reason names, or None for other failures."""
    m = _CODE.match(reason)
    return m.group(1) if m and m.group(1) in DEADLINES else None


@dataclass(frozen=True)
class HealthPolicy:
    """Every deadline in seconds (the fields of ``spec.deadlines``); the defaults are the
    executors' defaults for a spec that leaves a field unset."""

    startup_seconds: float = 120.0
    max_failures: int = 6
    failure_seconds: float = 30.0
    progress_seconds: float = 600.0
    pending_seconds: float = 600.0
    terminating_seconds: float = 300.0
    condition_seconds: float = 300.0

    def with_spec(self, deadlines: DeadlineSpec, max_failures: int) -> HealthPolicy:
        """This policy with the spec's own deadlines (and ``metrics.maxFailures``) applied."""
        chosen = {
            "startup_seconds": deadlines.startup_seconds,
            "failure_seconds": deadlines.scrape_failure_seconds,
            "progress_seconds": deadlines.progress_seconds,
            "pending_seconds": deadlines.pending_seconds,
            "terminating_seconds": deadlines.terminating_seconds,
            "condition_seconds": deadlines.workload_condition_seconds,
        }
        given = {k: v for k, v in chosen.items() if v is not None}
        return dataclasses.replace(self, max_failures=max_failures, **given)

    def verdict(self, watch: TrialWatch, now: float, window_name: str = "window") -> str | None:
        """Why the trial must fail now, or None while it is healthy (or already done)."""
        if watch.done:
            return None
        if not watch.answered:
            if now - watch.since >= self.startup_seconds:
                return (
                    f"{STARTUP}: metrics endpoint {watch.url} never answered in "
                    f"{self.startup_seconds:g}s ({watch.last_error or 'no response'})"
                )
            return None
        failing = now - watch.failing_since if watch.failing_since is not None else 0.0
        if watch.failures >= self.max_failures and failing >= self.failure_seconds:
            return (
                f"{SCRAPES}: metrics endpoint failed {watch.failures} scrapes in a row over "
                f"{failing:.0f}s (maxFailures={self.max_failures}, scrapeFailureSeconds="
                f"{self.failure_seconds:g}): {watch.last_error}"
            )
        if now - watch.last_change >= self.progress_seconds:
            return (
                f"{PROGRESS}: hung, no progress for {self.progress_seconds:g}s "
                f"(stuck at {window_name} {watch.last_seen[0]:g})"
            )
        return None


__all__ = [
    "CANNOT_START",
    "DEADLINES",
    "PENDING",
    "PROGRESS",
    "SCRAPES",
    "STARTUP",
    "WORKLOAD",
    "HealthPolicy",
    "deadline_of",
]
