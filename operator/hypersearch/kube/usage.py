"""What the pods of a search cost in requested resources, from their timestamps and requests.

Two figures come from the same per-pod ledger (kept in each Trial's ``status.pods``):

- a trial's compute when its trainer exports no counters (``pod-requests``): the time its
  containers ran x the pod's CPU and GPU requests;
- the search's ``resourceSeconds``: requests x pod lifetime (creation to end) summed over every
  pod the search ever had, including time spent Pending or pulling images, and pods that
  never trained.

Pure functions of pod objects and a wall-clock ``now`` (seconds since the epoch), so they are
tested without a cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Obj = dict[str, Any]
_SUFFIX = {
    "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
    "P": 1e15, "E": 1e18, "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40,
    "Pi": 2.0**50, "Ei": 2.0**60,
}  # fmt: skip
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def quantity(value: Any) -> float:
    """A Kubernetes resource quantity (``250m``, ``2``, ``1Gi``) as a number; 0 if unreadable."""
    if isinstance(value, int | float):
        return float(value)
    m = _QUANTITY.match(str(value).strip())
    if not m or m.group(2) not in _SUFFIX:
        return 0.0
    try:
        return float(m.group(1)) * _SUFFIX[m.group(2)]
    except ValueError:
        return 0.0


def _is_gpu(resource: str) -> bool:
    return resource.endswith("/gpu")  # nvidia.com/gpu, amd.com/gpu, ...


def _container_requests(container: Obj) -> tuple[float, float]:
    res = container.get("resources") or {}
    # A resource with only a limit is requested at its limit (the API server defaults it so).
    merged = {**(res.get("limits") or {}), **(res.get("requests") or {})}
    cpu = quantity(merged["cpu"]) if "cpu" in merged else 0.0
    gpu = sum(quantity(v) for k, v in merged.items() if _is_gpu(k))
    return cpu, gpu


def pod_requests(pod: Obj) -> tuple[float, float]:
    """CPU cores and GPUs a pod requests: its containers' sum, or its largest init container
    if that is more (what the scheduler reserves)."""
    spec = pod.get("spec") or {}
    main = [_container_requests(c) for c in spec.get("containers") or []]
    init = [_container_requests(c) for c in spec.get("initContainers") or []]
    cpu = max(sum(c for c, _ in main), max((c for c, _ in init), default=0.0))
    gpu = max(sum(g for _, g in main), max((g for _, g in init), default=0.0))
    return cpu, gpu


def timestamp(value: Any) -> float | None:
    """An RFC 3339 timestamp of the API (``2026-12-02T04:52:20Z``) in seconds since the epoch."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass
class PodUse:
    """One pod's requests and life: created, its containers started, ended (None: alive)."""

    cpu: float
    gpu: float
    created: float
    started: float | None = None
    ended: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return {
            "cpu": self.cpu,
            "gpu": self.gpu,
            "created": self.created,
            "started": self.started,
            "ended": self.ended,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PodUse:
        def opt(key: str) -> float | None:
            return None if raw.get(key) is None else float(raw[key])

        return cls(
            float(raw.get("cpu", 0.0)),
            float(raw.get("gpu", 0.0)),
            float(raw["created"]),
            opt("started"),
            opt("ended"),
        )

    def lifetime(self, now: float) -> float:
        """Seconds from creation to the end (or to now): what the requests were held for."""
        return max(0.0, (self.ended if self.ended is not None else now) - self.created)

    def running(self, now: float) -> float:
        """Seconds the containers ran (start to end, or to now)."""
        if self.started is None:
            return 0.0
        return max(0.0, (self.ended if self.ended is not None else now) - self.started)


def observe(pod: Obj, previous: PodUse | None, now: float) -> PodUse:
    """A pod's ledger entry from its current object (``previous``: what was known before)."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    cpu, gpu = pod_requests(pod)
    created = timestamp(meta.get("creationTimestamp"))
    if created is None:
        created = previous.created if previous else now
    starts: list[float] = []
    ends: list[float] = []
    statuses = status.get("containerStatuses") or []
    for cs in statuses:
        state = cs.get("state") or {}
        for kind in ("running", "terminated"):
            s = timestamp((state.get(kind) or {}).get("startedAt"))
            if s is not None:
                starts.append(s)
        e = timestamp((state.get("terminated") or {}).get("finishedAt"))
        if e is not None:
            ends.append(e)
    started = min(starts) if starts else (previous.started if previous else None)
    ended = previous.ended if previous else None
    all_done = bool(statuses) and len(ends) == len(statuses)
    if all_done:
        ended = max(ends)
    elif status.get("phase") in ("Succeeded", "Failed") and ended is None:
        ended = now  # terminal without container times: seen ended now
    return PodUse(cpu, gpu, created, started, ended)


def update(ledger: dict[str, PodUse], pods: Iterable[Obj], now: float, gone_at: float) -> bool:
    """Fold the pods of one trial seen now into its ledger (by pod uid). A pod that vanished
    while alive ended at ``gone_at`` (when it was last seen). Returns whether anything that is
    persisted changed."""
    before = {uid: use.to_dict() for uid, use in ledger.items()}
    seen = set()
    for pod in pods:
        uid = (pod.get("metadata") or {}).get("uid")
        if not uid:
            continue
        seen.add(uid)
        ledger[uid] = observe(pod, ledger.get(uid), now)
    for uid, use in ledger.items():
        if uid not in seen and use.ended is None:
            use.ended = max(use.created, gone_at)
    return {uid: use.to_dict() for uid, use in ledger.items()} != before


def trial_compute(ledger: dict[str, PodUse], now: float) -> tuple[float, float] | None:
    """CPU- and GPU-seconds of a trial's pods (running time x requests); None when its pods
    request neither CPU nor GPU (nothing to estimate from)."""
    if not any(u.cpu > 0 or u.gpu > 0 for u in ledger.values()):
        return None
    cpu = sum(u.cpu * u.running(now) for u in ledger.values())
    gpu = sum(u.gpu * u.running(now) for u in ledger.values())
    return cpu, gpu


def resource_seconds(ledgers: Iterable[dict[str, PodUse]], now: float) -> dict[str, float]:
    """Requests x lifetime over every pod: ``{"cpu": CPU-seconds, "gpu": GPU-seconds, "pods": n}``."""
    cpu = gpu = 0.0
    pods = 0
    for ledger in ledgers:
        for use in ledger.values():
            pods += 1
            cpu += use.cpu * use.lifetime(now)
            gpu += use.gpu * use.lifetime(now)
    return {"cpu": round(cpu, 3), "gpu": round(gpu, 3), "pods": pods}


__all__ = [
    "PodUse",
    "observe",
    "pod_requests",
    "quantity",
    "resource_seconds",
    "timestamp",
    "trial_compute",
    "update",
]
