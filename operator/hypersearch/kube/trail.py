"""The per-trial events a search posts, and the ones a crashed leader never posted.

Kopf posts events from an in-memory queue, so a leader killed right after creating a pod or
deleting one loses the tail of that queue. The replica that takes over compares what the
restored trials imply (started, promoted, stopped, failed) with the events the search already
has and posts the missing ones, so ``kubectl describe`` tells the whole story exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable

from hypersearch.engine import Trial, TrialState
from hypersearch.spec.model import ParamValue

Event = tuple[str, str, str]  # type, reason, message
TAKEOVER_NOTE = " (posted after a takeover: the previous leader stopped before posting it)"
COULD_NOT_START = "could not start"


def started(name: str, params: dict[str, ParamValue]) -> Event:
    return "Normal", "TrialStarted", f"{name}: {' '.join(f'{k}={v}' for k, v in params.items())}"


def promoted(name: str, source: str) -> Event:
    return "Normal", "Promoted", f"{name}: full training of {source}"


def stopped(name: str, reason: str) -> Event:
    return "Normal", "TrialStopped", f"{name}: {reason}"


def failed(name: str, reason: str) -> Event:
    return "Warning", "TrialFailed", f"{name}: {reason}"


def expected(trials: list[Trial]) -> list[Event]:
    """The per-trial events a search with these trial records has posted, in order."""
    out: list[Event] = []
    for t in trials:
        if t.stage == 2:
            out.append(promoted(t.name, trials[t.source or 0].name))
        elif not (t.state is TrialState.FAILED and t.reason.startswith(COULD_NOT_START)):
            out.append(started(t.name, t.params))
        if t.state is TrialState.STOPPED:
            out.append(stopped(t.name, t.reason))
        elif t.state is TrialState.FAILED:
            out.append(failed(t.name, t.reason))
    return out


def _key(event: Event) -> tuple[str, str]:
    """Reason and trial name: the message's details may differ (a reason is reworded)."""
    return event[1], event[2].split(":", 1)[0]


def missing(wanted: Iterable[Event], posted: Iterable[Event]) -> list[Event]:
    """``wanted`` events with no posted event of the same reason about the same trial."""
    have = {_key(e) for e in posted}
    return [e for e in wanted if _key(e) not in have]


__all__ = [
    "COULD_NOT_START",
    "TAKEOVER_NOTE",
    "Event",
    "expected",
    "failed",
    "missing",
    "promoted",
    "started",
    "stopped",
]
