"""The per-trial events a search posts, and the ones a crashed leader never posted.

Kopf posts events from an in-memory queue, so a leader killed right after creating a pod or
deleting one loses the tail of that queue. The replica that takes over compares what the
restored trials imply (started, promoted, stopped, failed) with the events the search already
has and posts the missing ones, so ``kubectl describe`` tells the whole story exactly once.

The API server deletes events after a TTL (an hour by default), so on a long search an absent
event is usually an expired one. Only decisions taken after the oldest event still present (the
*horizon*) are checked: events expire in creation order, so those must all still be there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from hypersearch.engine import Trial, TrialState
from hypersearch.spec.model import ParamValue

Event = tuple[str, str, str]  # type, reason, message
TAKEOVER_NOTE = " (posted after a takeover: the previous leader stopped before posting it)"
COULD_NOT_START = "could not start"


def started(name: str, params: dict[str, ParamValue]) -> Event:
    return "Normal", "TrialStarted", f"{name}: {' '.join(f'{k}={v}' for k, v in params.items())}"


def promoted(name: str, source: str) -> Event:
    return "Normal", "Promoted", f"{name}: full training of {source}"


def reused(name: str, reason: str) -> Event:
    """A promotion that needs no run (the stage-1 run already was the full run)."""
    return "Normal", "Promoted", f"{name}: {reason}"


def stopped(name: str, reason: str) -> Event:
    return "Normal", "TrialStopped", f"{name}: {reason}"


def failed(name: str, reason: str) -> Event:
    return "Warning", "TrialFailed", f"{name}: {reason}"


@dataclass(frozen=True)
class Written:
    """When a Trial resource was created (its start) and last written (its latest decision)."""

    created: float
    updated: float


def expected(
    trials: list[Trial], written: dict[str, Written] | None = None, horizon: float | None = None
) -> list[Event]:
    """The per-trial events a search with these trial records has posted, in order; with a
    ``horizon``, only those about decisions at or after it (``written`` says when)."""
    out: list[Event] = []
    for t in trials:
        when = (written or {}).get(t.name)
        if horizon is not None and when is None:
            continue  # no Trial resource to date it: nothing to check
        started_recently = when is None or horizon is None or when.created >= horizon
        decided_recently = when is None or horizon is None or when.updated >= horizon
        never_started = t.state is TrialState.FAILED and t.reason.startswith(COULD_NOT_START)
        if t.stage == 2 and started_recently:
            out.append(promoted(t.name, trials[t.source or 0].name))
        elif t.stage == 1 and started_recently and not never_started:
            out.append(started(t.name, t.params))
        if t.state is TrialState.STOPPED and decided_recently:
            out.append(stopped(t.name, t.reason))
        elif t.state is TrialState.FAILED and decided_recently:
            out.append(failed(t.name, t.reason))
    return out


def timestamp(text: str | None) -> float | None:
    """Seconds since the epoch of an API server time (``2026-12-01T17:00:00Z``)."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def written_at(resource: dict[str, object]) -> Written | None:
    """When a Trial resource was created and last written, from its metadata."""
    meta = resource.get("metadata")
    if not isinstance(meta, dict):
        return None
    created = timestamp(meta.get("creationTimestamp"))
    if created is None:
        return None
    times = [
        timestamp(f.get("time")) for f in meta.get("managedFields") or [] if isinstance(f, dict)
    ]
    return Written(created, max([created, *(t for t in times if t is not None)]))


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
    "Written",
    "expected",
    "failed",
    "missing",
    "promoted",
    "reused",
    "started",
    "stopped",
    "timestamp",
    "written_at",
]
