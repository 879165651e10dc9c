"""Health judged by time, the same for processes and pods (hypersearch.monitor.health)."""

from __future__ import annotations

from hypersearch.engine import TrialReport
from hypersearch.monitor import HealthPolicy, TrialWatch
from hypersearch.monitor.health import deadline_of
from hypersearch.spec.model import DeadlineSpec

POLICY = HealthPolicy(startup_seconds=90, max_failures=4, failure_seconds=20, progress_seconds=600)


def test_a_slow_start_is_not_a_failure_until_the_startup_deadline() -> None:
    w = TrialWatch("http://10.0.0.1:9100/metrics", since=0.0, last_change=0.0)
    for t in range(1, 80):  # a busy node: refused connections for 80 s, 160 fast polls
        w.failed_scrape("connection refused", float(t) / 2)
    assert POLICY.verdict(w, 80.0) is None
    verdict = POLICY.verdict(w, 90.0) or ""
    assert verdict.startswith("StartupDeadlineExceeded: ") and "never answered in 90s" in verdict


def test_an_endpoint_that_answers_badly_fails_after_max_failures_over_the_window() -> None:
    w = TrialWatch("http://10.0.0.1:9100/metrics", since=0.0, last_change=0.0)
    w.served(TrialReport(1.0, 10.0), 0.5)
    for t in range(8):  # 8 fast failures within 4 s: not yet (scrapeFailureSeconds=20)
        w.failed_scrape("HTTP 500", 1.0 + t / 2, reached=True)
    assert POLICY.verdict(w, 5.0) is None
    verdict = POLICY.verdict(w, 21.0) or ""
    assert verdict.startswith("ScrapeDeadlineExceeded: ") and "8 scrapes in a row" in verdict
    assert deadline_of(verdict) == "ScrapeDeadlineExceeded"


def test_no_progress_is_a_hang_and_progress_resets_the_clock() -> None:
    w = TrialWatch("http://10.0.0.1:9100/metrics", since=0.0, last_change=0.0)
    w.served(TrialReport(3.0, 100.0), 10.0)
    assert POLICY.verdict(w, 600.0) is None
    w.served(TrialReport(3.0, 100.0), 300.0)  # the same position again: no progress
    verdict = POLICY.verdict(w, 610.0) or ""
    assert verdict.startswith("ProgressDeadlineExceeded: hung, no progress for 600s"), verdict
    w.served(TrialReport(4.0, 130.0), 611.0)
    assert POLICY.verdict(w, 1000.0) is None


def test_the_specs_deadlines_override_the_executors_defaults_field_by_field() -> None:
    defaults = HealthPolicy(startup_seconds=90, pending_seconds=600)
    chosen = defaults.with_spec(DeadlineSpec(pending_seconds=15, progress_seconds=60), 3)
    assert (chosen.pending_seconds, chosen.progress_seconds, chosen.max_failures) == (15, 60, 3)
    assert chosen.startup_seconds == 90 and chosen.terminating_seconds == 300


def test_only_a_named_deadline_is_read_back_from_a_reason() -> None:
    assert deadline_of("PendingDeadlineExceeded: pod still Pending") == "PendingDeadlineExceeded"
    assert deadline_of("pod failed: container trainer exited with code 1") is None
    assert deadline_of("Something: else") is None
