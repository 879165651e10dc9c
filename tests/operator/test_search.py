"""A small two-stage search on the real control plane, driven by the operator running with
only its own ServiceAccount's namespaced RBAC (manifests/namespaced/rbac.yaml)."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from tests.cluster import Cluster
from tests.operator.conftest import (
    MANIFESTS,
    create_search,
    events,
    pod_runs,
    service_account_kubeconfig,
    tiny_search,
    trials,
    wait_phase,
)


def install_namespaced_rbac(api: client.ApiClient, namespace: str) -> None:
    """The shipped Role/RoleBinding and ServiceAccount, moved into the test namespace."""
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    core.create_namespaced_service_account(
        namespace, {"metadata": {"name": "hypersearch-operator"}}
    )
    for doc in yaml.safe_load_all((MANIFESTS / "namespaced" / "rbac.yaml").read_text()):
        for s in doc.get("subjects") or []:
            s["namespace"] = namespace
        if doc["kind"] == "Role":
            doc["metadata"]["namespace"] = namespace
            rbac.create_namespaced_role(namespace, doc)
        elif doc["kind"] == "RoleBinding":
            doc["metadata"]["namespace"] = namespace
            rbac.create_namespaced_role_binding(namespace, doc)
        elif doc["kind"] == "ClusterRole":  # reading this namespace's own object only
            doc["metadata"]["name"] += f"-{namespace}"
            doc["rules"][0]["resourceNames"] = [namespace]
            rbac.create_cluster_role(doc)
        else:
            doc["metadata"]["name"] += f"-{namespace}"
            doc["roleRef"]["name"] += f"-{namespace}"
            rbac.create_cluster_role_binding(doc)


def test_two_stage_search_succeeds_under_operator_rbac(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any, tmp_path: Path
) -> None:
    install_namespaced_rbac(k8s, namespace)
    kubeconfig = service_account_kubeconfig(
        cluster, k8s, namespace, "hypersearch-operator", tmp_path / "sa.kubeconfig"
    )
    op = operator_factory(kubeconfig=kubeconfig)
    doc = tiny_search("tiny")
    # Pods request a quarter of a CPU, and the trainer's CPU counter is mapped to a name it
    # does not export: the operator estimates each trial's compute from its pods.
    trainer = doc["spec"]["trialTemplate"]["spec"]["containers"][0]
    trainer["resources"] = {"requests": {"cpu": "250m"}}
    doc["spec"]["metrics"]["cpuSeconds"] = "hypersearch_trainer_cpu_seconds_not_exported"
    create_search(k8s, namespace, doc)
    search = wait_phase(cluster, k8s, namespace, "tiny", ("Succeeded", "Failed", "Invalid"))
    status = search["status"]
    assert status["phase"] == "Succeeded", status.get("reason")

    # The status a person reads: counts, best, winners with their final metric, cost.
    assert status["trials"]["stopped"] >= 1
    assert status["trials"]["total"] == 5
    assert status["winner"] == status["promoted"][0] + "-full"
    (winner,) = status["winners"]
    assert winner["state"] == "Completed" and winner["final"] > 0
    cost = status["cost"]
    assert cost["examplesReduction"] > 1
    # Compute: every run's from its pods (running time x requests), the full-data stage-2 run
    # the baseline; on data this small start-up dominates, so the reduction may be below 1.
    assert cost["computeSource"] == {"pod-requests": 6}, cost
    assert cost["fullRunComputeSource"] == "1 completed full-data run (stage 2)", cost
    assert cost["reduction"] is not None and cost["computeUnit"] == "CPU-seconds"
    # Requests x lifetime of all 6 pods, Pending included: at least what they ran.
    held = cost["resourceSeconds"]
    assert held["pods"] == 6 and held["gpu"] == 0
    assert held["cpu"] >= cost["totalCpuSeconds"] > 0
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["Succeeded"]["status"] == "True"
    assert conds["Running"]["status"] == "False"
    assert conds["Succeeded"]["observedGeneration"] == search["metadata"]["generation"]

    # One Trial per run, owned by the search, with the engine record and a reason.
    children = {t["metadata"]["name"]: t for t in trials(k8s, namespace)}
    assert set(children) == {f"tiny-{i:03d}" for i in range(5)} | {status["winner"]}
    uid = search["metadata"]["uid"]
    for t in children.values():
        assert t["metadata"]["ownerReferences"][0]["uid"] == uid
        assert t["status"]["reason"]
        assert t["status"]["record"]["name"] == t["metadata"]["name"]
    for t in children.values():
        st = t["status"]
        assert st["computeSource"] == "pod-requests", st
        (pod,) = st["pods"].values()  # one pod per run, requests and times in the ledger
        assert pod["cpu"] == 0.25 and pod["ended"] >= pod["started"] >= pod["created"]
        assert abs(st["cpuSeconds"] - 0.25 * (pod["ended"] - pod["started"])) < 0.01, st
    assert abs(sum(t["status"]["cpuSeconds"] for t in children.values())
               - cost["totalCpuSeconds"]) < 0.01  # fmt: skip
    stopped = [t for t in children.values() if t["status"]["state"] == "Stopped"]
    assert stopped and all("stopped at window" in t["status"]["reason"] for t in stopped)
    assert all(t["status"]["predicted"] is not None for t in stopped)

    # The winner's full training ran as a batch/v1 Job that completed.
    job = client.BatchV1Api(k8s).read_namespaced_job(status["winner"], namespace)
    assert any(c.type == "Complete" and c.status == "True" for c in job.status.conditions)
    assert job.metadata.owner_references[0].uid == uid
    assert job.metadata.labels["hypersearch.dev/stage"] == "2"

    # Each trial pod ran exactly once.
    runs = pod_runs(cluster, namespace)
    assert all(runs.get(f"tiny-{i:03d}") == 1 for i in range(5)), runs

    reasons = [r for _, r, _ in events(k8s, namespace, "tiny")]
    for r in ("Started", "TrialStarted", "TrialStopped", "Promoted", "Succeeded"):
        assert r in reasons, reasons

    # The operator's own metrics, and not a single 403 under its least-privilege role.
    text = urllib.request.urlopen(f"http://127.0.0.1:{op.metrics_port}/metrics").read().decode()
    assert "hypersearch_operator_stops_total" in text
    assert 'hypersearch_operator_searches{phase="Succeeded"} 1.0' in text
    assert "hypersearch_operator_scrape_seconds_count" in text
    for gauge in ("cost_reduction", "examples_reduction", "compute_seconds",
                  "full_search_compute_seconds", "resource_seconds"):  # fmt: skip
        assert f'hypersearch_operator_{gauge}{{namespace="{namespace}"' in text, gauge
    assert "403" not in op.log() and "Forbidden" not in op.log(), op.log()[-3000:]
    # Pods come from the operator's pod index (one watch), not from a LIST each round: the
    # LISTs are the Trials at start and the Jobs during stage 2 only.
    samples = {f.name: f.samples for f in text_string_to_metric_families(text)}
    rounds = next(s.value for s in samples["hypersearch_operator_round_seconds"]
                  if s.name.endswith("_count"))  # fmt: skip
    lists = sum(s.value for s in samples["hypersearch_operator_api_requests"]
                if s.labels.get("verb") == "list")  # fmt: skip
    assert lists < rounds, (lists, rounds)
