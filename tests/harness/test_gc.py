"""The real garbage collector deletes dependents of a deleted owner, running pods included."""

from __future__ import annotations

from kubernetes import client

from tests.cluster import Cluster
from tests.harness.pods import PRINT_PID, alive, pod_manifest, read_pod, wait_phase, wait_pid


def test_deleting_owner_collects_children(
    cluster: Cluster, k8s: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(k8s)
    owner = core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "owner"}, "data": {"a": "b"}}
    )
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner.metadata.uid,
    }
    core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "child", "ownerReferences": [ref]}}
    )
    pod = pod_manifest("child-pod", PRINT_PID + "import time; time.sleep(600)")
    pod["metadata"]["ownerReferences"] = [ref]
    core.create_namespaced_pod(namespace, pod)
    wait_phase(cluster, core, namespace, "child-pod", "Running")
    pid = wait_pid(cluster, namespace, "child-pod")

    core.delete_namespaced_config_map("owner", namespace)

    def gone() -> bool:
        try:
            core.read_namespaced_config_map("child", namespace)
            return False
        except client.ApiException as e:
            return e.status == 404

    cluster.wait(gone, 60, "the child ConfigMap to be garbage-collected")
    cluster.wait(lambda: read_pod(core, namespace, "child-pod") is None, 60, "the child pod")
    assert not alive(pid)
