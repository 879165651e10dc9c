"""Restart safety and leader election: two replicas, only one acts; the leader is killed
mid-search; the other takes over, resumes from the cluster and finishes without duplicates."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from tests.cluster import Cluster
from tests.operator.conftest import (
    create_search,
    events,
    pod_runs,
    tiny_search,
    trials,
    wait_phase,
    wait_until,
)


def test_leader_killed_mid_search_standby_finishes_without_duplicates(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    first = operator_factory()
    wait_until(lambda: "leading as" in first.log(), 60, "the first replica to lead")
    second = operator_factory()
    wait_until(lambda: "another replica leads" in second.log(), 60, "the standby to wait")

    doc = tiny_search("restart", trials=6)
    env = doc["spec"]["trialTemplate"]["spec"]["containers"][0]["env"]
    env[0]["value"] = "synth:agrawal?windows=12&window_rows=6000"  # trials run a few seconds
    create_search(k8s, namespace, doc)

    def mid_search() -> bool:
        ts = trials(k8s, namespace)
        return len(ts) >= 4 and any(t.get("status", {}).get("state") == "Stopped" for t in ts)

    wait_until(mid_search, 120, "the search to be under way")
    first.kill()
    assert "leading as" not in second.log()  # the standby never acted while the leader lived

    search = wait_phase(cluster, k8s, namespace, "restart", ("Succeeded", "Failed"), timeout=150)
    assert search["status"]["phase"] == "Succeeded", search["status"].get("reason")
    assert "leading as" in second.log()

    # One Trial per run, one pod per stage-1 trial, one Job per winner: nothing duplicated.
    names = sorted(t["metadata"]["name"] for t in trials(k8s, namespace))
    assert names == [f"restart-{i:03d}" for i in range(6)] + [search["status"]["winner"]]
    runs = pod_runs(cluster, namespace)
    assert all(runs.get(f"restart-{i:03d}") == 1 for i in range(6)), runs
    jobs = client.BatchV1Api(k8s).list_namespaced_job(namespace).items
    assert [j.metadata.name for j in jobs] == [search["status"]["winner"]]
    reasons = [r for _, r, _ in events(k8s, namespace, "restart")]
    assert reasons.count("Started") == 1 and "Resumed" in reasons
    assert reasons.count("TrialStarted") == 6, reasons
