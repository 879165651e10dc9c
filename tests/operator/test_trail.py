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
