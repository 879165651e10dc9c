"""When a running trial is unhealthy: judged by time, the same way for processes and pods.

A trainer may be slow to start (importing torch on a busy node), may miss a few scrapes, and
may pause; it fails only when its endpoint has stayed silent past the start-up deadline, has
failed ``max_failures`` scrapes in a row for at least ``failure_seconds``, or has made no
progress (position and examples unchanged) for ``progress_seconds``.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypersearch.monitor.watch import TrialWatch


@dataclass(frozen=True)
class HealthPolicy:
    startup_seconds: float = 120.0
    max_failures: int = 6
    failure_seconds: float = 0.0
    progress_seconds: float = 600.0

    def verdict(self, watch: TrialWatch, now: float, window_name: str = "window") -> str | None:
        """Why the trial must fail now, or None while it is healthy (or already done)."""
        if watch.done:
            return None
        if not watch.answered:
            if now - watch.since >= self.startup_seconds:
                return (
                    f"metrics endpoint {watch.url} never answered in {self.startup_seconds:g}s "
                    f"({watch.last_error or 'no response'})"
                )
            return None
        failing = now - watch.failing_since if watch.failing_since is not None else 0.0
        if watch.failures >= self.max_failures and failing >= self.failure_seconds:
            return (
                f"metrics endpoint failed {watch.failures} scrapes in a row over {failing:.0f}s "
                f"(maxFailures={self.max_failures}): {watch.last_error}"
            )
        if now - watch.last_change >= self.progress_seconds:
            return (
                f"hung: no progress for {self.progress_seconds:g}s "
                f"(stuck at {window_name} {watch.last_seen[0]:g})"
            )
        return None


__all__ = ["HealthPolicy"]
