"""Pod resource accounting without a cluster: requests, lifetimes, the ledger of vanished pods,
and the pod-requests compute of a trial whose trainer exports no counters."""

from __future__ import annotations

from typing import Any

import pytest
from hypersearch.kube.usage import (
    PodUse,
    pod_requests,
    quantity,
    resource_seconds,
    timestamp,
    trial_compute,
    update,
)

T0 = timestamp("2026-12-02T10:00:00Z")
assert T0 is not None


def at(seconds: float) -> str:
    return f"2026-12-02T10:{int(seconds) // 60:02d}:{int(seconds) % 60:02d}Z"


def pod(uid: str, created: float, started: float | None = None, finished: float | None = None,
        phase: str = "Running", cpu: str | None = "500m", gpus: int = 0,
        init_cpu: str | None = None) -> dict[str, Any]:  # fmt: skip
    requests: dict[str, Any] = {} if cpu is None else {"cpu": cpu}
    limits = {"nvidia.com/gpu": str(gpus)} if gpus else {}
    spec: dict[str, Any] = {"containers": [{"name": "trainer", "resources": {
        "requests": requests, "limits": limits}}, {"name": "sidecar"}]}  # fmt: skip
    if init_cpu:
        spec["initContainers"] = [{"name": "fetch", "resources": {"requests": {"cpu": init_cpu}}}]
    statuses = []
    if started is not None:
        state: dict[str, Any] = {"running": {"startedAt": at(started)}}
        if finished is not None:
            state = {"terminated": {"startedAt": at(started), "finishedAt": at(finished),
                                    "exitCode": 0}}  # fmt: skip
        statuses = [{"name": "trainer", "state": state}]
    return {
        "metadata": {"uid": uid, "creationTimestamp": at(created)},
        "spec": spec,
        "status": {"phase": phase, "containerStatuses": statuses},
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [("250m", 0.25), ("2", 2.0), ("1.5", 1.5), ("1Gi", 2.0**30), ("3k", 3000.0), (4, 4.0),
     ("junk", 0.0)],
)  # fmt: skip
def test_quantities(text: Any, value: float) -> None:
    assert quantity(text) == value


def test_requests_sum_containers_use_limits_alone_and_the_largest_init_container() -> None:
    assert pod_requests(pod("a", 0, gpus=2)) == (0.5, 2.0)
    assert pod_requests(pod("b", 0, cpu=None)) == (0.0, 0.0)
    assert pod_requests(pod("c", 0, init_cpu="2")) == (2.0, 0.0)


def test_the_ledger_counts_pending_time_for_resources_and_running_time_for_compute() -> None:
    ledger: dict[str, PodUse] = {}
    # Created at 0, pulling its image until 20, running since then; now is 60.
    assert update(ledger, [pod("a", 0, started=20)], T0 + 60, T0 + 60)
    assert trial_compute(ledger, T0 + 60) == pytest.approx((0.5 * 40, 0.0))
    assert resource_seconds([ledger], T0 + 60) == {"cpu": 30.0, "gpu": 0.0, "pods": 1}
    # It finished at 90; a later round does not count past that.
    update(ledger, [pod("a", 0, started=20, finished=90, phase="Succeeded")], T0 + 95, T0 + 60)
    assert trial_compute(ledger, T0 + 500) == pytest.approx((35.0, 0.0))
    assert resource_seconds([ledger], T0 + 500)["cpu"] == 45.0


def test_a_pod_that_vanished_ended_when_it_was_last_seen_and_a_stuck_one_still_costs() -> None:
    ledger: dict[str, PodUse] = {}
    update(ledger, [pod("a", 0, started=10, gpus=1)], T0 + 30, T0 + 30)
    # Deleted (a loser stopped): absent from the next list, so it ended at the last listing.
    assert update(ledger, [], T0 + 40, T0 + 30)
    assert ledger["a"].ended == T0 + 30
    assert trial_compute(ledger, T0 + 100) == pytest.approx((10.0, 20.0))
    assert not update(ledger, [], T0 + 50, T0 + 40)  # nothing new to persist
    # A pod that never started (unschedulable, image pull) holds its requests all the same.
    stuck: dict[str, PodUse] = {}
    update(stuck, [pod("b", 0, phase="Pending")], T0 + 50, T0 + 50)
    assert trial_compute(stuck, T0 + 50) == (0.0, 0.0)
    total = resource_seconds([ledger, stuck], T0 + 50)
    assert total == {"cpu": 0.5 * 30 + 0.5 * 50, "gpu": 30.0, "pods": 2}


def test_without_requests_there_is_nothing_to_estimate_from() -> None:
    ledger: dict[str, PodUse] = {}
    update(ledger, [pod("a", 0, started=5, cpu=None)], T0 + 60, T0 + 60)
    assert trial_compute(ledger, T0 + 60) is None
    assert resource_seconds([ledger], T0 + 60) == {"cpu": 0.0, "gpu": 0.0, "pods": 1}
    assert PodUse.from_dict(ledger["a"].to_dict()) == ledger["a"]
