"""Health judged by time, the same for processes and pods (hypersearch.monitor.health)."""

from __future__ import annotations

from hypersearch.engine import TrialReport
from hypersearch.monitor import HealthPolicy, TrialWatch

POLICY = HealthPolicy(startup_seconds=90, max_failures=4, progress_seconds=600)


def test_a_slow_start_is_not_a_failure_until_the_startup_deadline() -> None:
    w = TrialWatch("http://10.0.0.1:9100/metrics", since=0.0, last_change=0.0)
    for t in range(1, 80):  # a busy node: refused connections for 80 s, 160 fast polls
        w.failed_scrape("connection refused", float(t) / 2)
    assert POLICY.verdict(w, 80.0) is None
    assert "never answered in 90s" in (POLICY.verdict(w, 90.0) or "")


def test_an_endpoint_that_answers_badly_fails_after_max_failures() -> None:
    w = TrialWatch("http://10.0.0.1:9100/metrics", since=0.0, last_change=0.0)
    for t in range(4):
        w.failed_scrape("HTTP 500", 1.0 + t, reached=True)
    assert "failed 4 scrapes in a row" in (POLICY.verdict(w, 5.0) or "")


def test_no_progress_is_a_hang_and_progress_resets_the_clock() -> None:
    w = TrialWatch("http://10.0.0.1:9100/metrics", since=0.0, last_change=0.0)
    w.served(TrialReport(3.0, 100.0), 10.0)
    assert POLICY.verdict(w, 600.0) is None
    w.served(TrialReport(3.0, 100.0), 300.0)  # the same position again: no progress
    assert "hung: no progress for 600s" in (POLICY.verdict(w, 610.0) or "")
    w.served(TrialReport(4.0, 130.0), 611.0)
    assert POLICY.verdict(w, 1000.0) is None
