"""Reading a child's status the way a person would: why a pod failed, why one is still
Pending (and whether waiting longer can help), whether a workload reached a condition."""

from __future__ import annotations

from typing import Any

from hypersearch.kube import trail
from hypersearch.monitor.health import CANNOT_START, PENDING

Obj = dict[str, Any]


def pod_failure(pod: Obj) -> str:
    """Why a pod failed, from its container statuses, as a person would want it."""
    status = pod.get("status") or {}
    for cs in status.get("containerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated") or {}
        if term:
            text = f"pod failed: container {cs.get('name')} exited with code {term.get('exitCode')}"
            extra = term.get("message") or term.get("reason")
            return f"{text} ({extra})" if extra else text
    return f"pod failed: {status.get('reason') or ''} {status.get('message') or ''}".strip()


# Container waiting reasons that no amount of waiting fixes.
HOPELESS = ("InvalidImageName", "CreateContainerConfigError", "CreateContainerError")


def pending_reason(pod: Obj, now: float, limit: float) -> str | None:
    """Why a pod that is still Pending must fail now, in the pod's own words (the scheduler's
    message, the image that cannot be pulled), or None while it may still start."""
    status = pod.get("status") or {}
    if status.get("phase") != "Pending":
        return None
    created = trail.timestamp((pod.get("metadata") or {}).get("creationTimestamp"))
    waited = now - created if created is not None else 0.0
    why = ""
    for c in status.get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            why = f"{c.get('reason') or 'not scheduled'}: {c.get('message') or ''}".strip(": ")
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            why = f"{waiting['reason']}: {waiting.get('message') or ''}".strip(": ")
            if waiting["reason"] in HOPELESS:
                return f"{CANNOT_START}: pod cannot start: {why}"[:500]
    if waited < limit:
        return None
    return (
        f"{PENDING}: pod still Pending after {waited:.0f}s (pendingSeconds={limit:g}): "
        f"{why or 'no reason given'}"
    )[:500]


def condition_true(obj: Obj, type_: str) -> Obj | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_ and c.get("status") == "True":
            return dict(c)
    return None


__all__ = ["HOPELESS", "condition_true", "pending_reason", "pod_failure"]
