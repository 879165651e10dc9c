"""The event trail a takeover completes: what restored trials imply minus what was posted."""

from __future__ import annotations

from hypersearch.engine import Search, StartTrial, TrialState
from hypersearch.kube import trail
from hypersearch.spec import parse

from tests.operator.conftest import tiny_search


def search_with_endings() -> Search:
    search = Search(parse(tiny_search("s", trials=4, parallelism=4)))
    assert all(isinstance(a, StartTrial) for a in search.step())
    t = search.trials
    t[1].state, t[1].reason = TrialState.STOPPED, "predicted 0.61, worse than the 2nd best"
    t[2].state, t[2].reason = TrialState.FAILED, "exit code 1"
    t[3].state, t[3].reason = TrialState.FAILED, f"{trail.COULD_NOT_START}: bad template"
    return search


def test_expected_events_follow_each_trials_history() -> None:
    search = search_with_endings()
    got = [(reason, msg.split(":")[0]) for _, reason, msg in trail.expected(search.trials)]
    assert got == [
        ("TrialStarted", "s-000"),
        ("TrialStarted", "s-001"),
        ("TrialStopped", "s-001"),
        ("TrialStarted", "s-002"),
        ("TrialFailed", "s-002"),
        ("TrialFailed", "s-003"),  # never started: no TrialStarted
    ]
    assert trail.expected(search.trials)[0] == trail.started("s-000", search.trials[0].params)


def test_only_events_never_posted_are_missing() -> None:
    search = search_with_endings()
    wanted = trail.expected(search.trials)
    posted = [
        ("Normal", "Started", "search started: 4 trials"),
        trail.started("s-000", search.trials[0].params),
        ("Normal", "TrialStarted", "s-001: reworded parameters"),  # same trial, same reason
        ("Normal", "TrialStarted", "s-002: lr=0.1"),
        ("Normal", "TrialStopped", "s-000: a different trial's stop"),
    ]
    assert trail.missing(wanted, posted) == [
        trail.stopped("s-001", search.trials[1].reason),
        trail.failed("s-002", "exit code 1"),
        trail.failed("s-003", f"{trail.COULD_NOT_START}: bad template"),
    ]
    assert trail.missing(wanted, wanted) == []


def test_only_decisions_after_the_oldest_surviving_event_are_checked() -> None:
    """Events expire after a TTL: an absent event about an older decision is not lost."""
    search = search_with_endings()
    written = {
        "s-000": trail.Written(created=100.0, updated=100.0),  # all before the horizon
        "s-001": trail.Written(created=100.0, updated=500.0),  # started before, stopped after
        "s-002": trail.Written(created=400.0, updated=450.0),  # all after
    }  # s-003 has no Trial resource: nothing to date it by
    got = [(r, m.split(":")[0]) for _, r, m in trail.expected(search.trials, written, 300.0)]
    assert got == [("TrialStopped", "s-001"), ("TrialStarted", "s-002"), ("TrialFailed", "s-002")]
    assert trail.missing(trail.expected(search.trials, written, 300.0), []) == [
        trail.stopped("s-001", search.trials[1].reason),
        trail.started("s-002", search.trials[2].params),
        trail.failed("s-002", "exit code 1"),
    ]


def test_written_at_reads_creation_and_the_latest_managed_field() -> None:
    resource = {
        "metadata": {
            "creationTimestamp": "2026-12-01T17:00:00Z",
            "managedFields": [
                {"manager": "op", "operation": "Update", "time": "2026-12-01T17:00:00Z"},
                {"manager": "op", "operation": "Update", "time": "2026-12-01T17:05:30Z",
                 "subresource": "status"},
            ],
        }
    }  # fmt: skip
    w = trail.written_at(resource)
    assert w is not None and w.updated - w.created == 330.0
    assert trail.written_at({"metadata": {}}) is None
