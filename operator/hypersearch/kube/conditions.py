"""Standard ``status.conditions``: one entry per type, its transition time kept while unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: list[Obj],
    type_: str,
    status: bool,
    reason: str,
    message: str,
    generation: int | None,
) -> list[Obj]:
    """A new list with ``type_`` set; lastTransitionTime moves only when the status flips."""
    value = "True" if status else "False"
    out: list[Obj] = []
    found = False
    for c in conditions:
        if c.get("type") != type_:
            out.append(c)
            continue
        found = True
        changed = c.get("status") != value
        out.append(
            {
                "type": type_,
                "status": value,
                "reason": reason,
                "message": message[:1024],
                "lastTransitionTime": now() if changed else c.get("lastTransitionTime", now()),
                "observedGeneration": generation,
            }
        )
    if not found:
        out.append(
            {
                "type": type_,
                "status": value,
                "reason": reason,
                "message": message[:1024],
                "lastTransitionTime": now(),
                "observedGeneration": generation,
            }
        )
    return out


__all__ = ["now", "set_condition"]
