"""The real Job controller creates pods; the agent runs them; the Job completes or fails."""

from __future__ import annotations

import sys

from kubernetes import client

from tests.cluster import Cluster

ENV = [
    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
]


def job(name: str, code: str) -> dict[str, object]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "main",
                            "image": "ignored",
                            "command": [sys.executable, "-c", code],
                            "env": ENV,
                        }
                    ],
                }
            },
        },
    }


def job_condition(batch: client.BatchV1Api, ns: str, name: str) -> str | None:
    conds = batch.read_namespaced_job(name, ns).status.conditions or []
    done = [c.type for c in conds if c.type in ("Complete", "Failed") and c.status == "True"]
    return done[0] if done else None


def test_job_completes(cluster: Cluster, k8s: client.ApiClient, namespace: str) -> None:
    batch, core = client.BatchV1Api(k8s), client.CoreV1Api(k8s)
    code = "import os; e = os.environ; print('hello', e['POD_NAME'], e['POD_NS'], e['POD_IP'])"
    batch.create_namespaced_job(namespace, job("ok", code))
    assert cluster.wait(lambda: job_condition(batch, namespace, "ok"), 90, "job ok") == "Complete"
    assert batch.read_namespaced_job("ok", namespace).status.succeeded == 1

    (pod,) = core.list_namespaced_pod(namespace, label_selector="job-name=ok").items
    assert pod.spec.node_name in cluster.node_names  # bound by kube-scheduler
    assert pod.status.phase == "Succeeded"
    assert pod.status.pod_ip.startswith("127.")
    (status,) = pod.status.container_statuses
    assert status.state.terminated.exit_code == 0
    out = cluster.pod_log(namespace, pod.metadata.name)
    assert f"hello {pod.metadata.name} {namespace} {pod.status.pod_ip}" in out


def test_job_failure_reports_exit_code(
    cluster: Cluster, k8s: client.ApiClient, namespace: str
) -> None:
    batch, core = client.BatchV1Api(k8s), client.CoreV1Api(k8s)
    batch.create_namespaced_job(namespace, job("bad", "raise SystemExit(3)"))
    assert cluster.wait(lambda: job_condition(batch, namespace, "bad"), 90, "job bad") == "Failed"
    (pod,) = core.list_namespaced_pod(namespace, label_selector="job-name=bad").items
    assert pod.status.phase == "Failed"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 3
