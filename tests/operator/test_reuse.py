"""Stage 1 on the full data: the operator records the finished runs as stage 2, runs no Job."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from tests.cluster import Cluster
from tests.operator.conftest import create_search, events, tiny_search, trials, wait_phase


def test_full_data_stage1_winner_is_recorded_not_retrained(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    operator_factory()
    doc = tiny_search(
        "reuse", trials=3, stage1={"data": {"rate": 1.0}, "stopping": {"rule": "none"}}
    )
    create_search(k8s, namespace, doc)
    search = wait_phase(cluster, k8s, namespace, "reuse", ("Succeeded", "Failed"))
    status = search["status"]
    assert status["phase"] == "Succeeded", status.get("reason")
    [winner] = status["winners"]
    assert winner["state"] == "Completed" and winner["final"] is not None
    assert winner["reason"].startswith("reused reuse-"), winner
    assert status["cost"]["stage2Examples"] == 0
    assert client.BatchV1Api(k8s).list_namespaced_job(namespace).items == []
    records = {t["metadata"]["name"]: t for t in trials(k8s, namespace)}
    assert records[winner["trial"]]["status"]["state"] == "Completed"
    promoted = [m for _, r, m in events(k8s, namespace, "reuse") if r == "Promoted"]
    assert len(promoted) == 1 and promoted[0].startswith(f"{winner['trial']}: reused"), promoted
