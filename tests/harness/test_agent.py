"""Node agent behaviour beyond the basics: pod IPs, restart policies and GPU capacity."""

from __future__ import annotations

import urllib.request

from kubernetes import client

from tests.cluster import Cluster
from tests.harness.pods import pod_manifest, python_container, read_pod, wait_phase

SERVE = """
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = os.environ["POD_NAME"].encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
http.server.HTTPServer((os.environ["POD_IP"], 8080), H).serve_forever()
"""
ENV = [
    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
]


def test_nodes_have_capacity(cluster: Cluster, k8s: client.ApiClient) -> None:
    nodes = client.CoreV1Api(k8s).list_node().items
    assert sorted(n.metadata.name for n in nodes) == sorted(cluster.node_names)
    for n in nodes:
        assert n.status.capacity["nvidia.com/gpu"] == "4"
        assert n.status.allocatable["cpu"] == "16"


def test_pods_listen_on_same_port(cluster: Cluster, k8s: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(k8s)
    for name in ("web-a", "web-b"):
        core.create_namespaced_pod(namespace, pod_manifest(name, SERVE, env=ENV))
    ips = {}
    for name in ("web-a", "web-b"):
        ips[name] = wait_phase(cluster, core, namespace, name, "Running").status.pod_ip
    assert ips["web-a"] != ips["web-b"]

    def get(ip: str) -> str | None:
        try:
            with urllib.request.urlopen(f"http://{ip}:8080/", timeout=1) as resp:
                return str(resp.read().decode())
        except OSError:
            return None

    for name, ip in ips.items():
        assert cluster.wait(lambda ip=ip: get(ip), 30, f"{name} to serve") == name


def test_restart_on_failure(cluster: Cluster, k8s: client.ApiClient, namespace: str) -> None:
    """OnFailure restarts a failed container (here once) until it succeeds."""
    core = client.CoreV1Api(k8s)
    code = """
import os, sys
marker = os.path.join(os.getcwd(), "tried")
if not os.path.exists(marker):
    open(marker, "w").close()
    sys.exit(5)
"""
    core.create_namespaced_pod(namespace, pod_manifest("flaky", code, restart="OnFailure"))
    pod = wait_phase(cluster, core, namespace, "flaky", "Succeeded", "Failed")
    assert pod.status.phase == "Succeeded"
    (status,) = pod.status.container_statuses
    assert status.restart_count == 1
    assert status.last_state.terminated.exit_code == 5


def test_never_restart_fails_pod(cluster: Cluster, k8s: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(k8s)
    core.create_namespaced_pod(namespace, pod_manifest("dies", "raise SystemExit(7)"))
    pod = wait_phase(cluster, core, namespace, "dies", "Succeeded", "Failed")
    assert pod.status.phase == "Failed"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 7
    assert pod.status.container_statuses[0].restart_count == 0


def test_gpu_requests_are_scheduled_by_capacity(
    cluster: Cluster, k8s: client.ApiClient, namespace: str
) -> None:
    """Each node has 4 GPUs: a pod asking for 4 runs, one asking for 5 stays Pending."""
    core = client.CoreV1Api(k8s)
    sleep = "import time; time.sleep(600)"
    gpus = {"limits": {"nvidia.com/gpu": "4"}}
    core.create_namespaced_pod(namespace, pod_manifest("fits", sleep, resources=gpus))
    too_many = {"limits": {"nvidia.com/gpu": "5"}}
    core.create_namespaced_pod(namespace, pod_manifest("too-big", sleep, resources=too_many))
    wait_phase(cluster, core, namespace, "fits", "Running")

    def unschedulable() -> bool:
        pod = read_pod(core, namespace, "too-big")
        conds = (pod.status.conditions or []) if pod else []
        return any(c.type == "PodScheduled" and c.reason == "Unschedulable" for c in conds)

    cluster.wait(unschedulable, 30, "the scheduler to reject the 5-GPU pod")
    pod = read_pod(core, namespace, "too-big")
    assert pod is not None and pod.status.phase == "Pending" and not pod.spec.node_name


def test_restart_always(cluster: Cluster, k8s: client.ApiClient, namespace: str) -> None:
    """Always restarts even successful exits; the pod stays Running."""
    core = client.CoreV1Api(k8s)
    core.create_namespaced_pod(namespace, pod_manifest("loop", "print('tick')", restart="Always"))

    def restarted() -> bool:
        pod = read_pod(core, namespace, "loop")
        statuses = (pod.status.container_statuses or []) if pod else []
        return bool(statuses) and statuses[0].restart_count >= 2

    cluster.wait(restarted, 30, "two restarts")
    pod = read_pod(core, namespace, "loop")
    assert pod is not None and pod.status.phase == "Running"
    assert cluster.pod_log(namespace, "loop").count("tick") >= 2


def test_init_and_multiple_containers(
    cluster: Cluster, k8s: client.ApiClient, namespace: str
) -> None:
    """Init containers run first, in order; then all containers run side by side."""
    core = client.CoreV1Api(k8s)
    write = "import os; open(os.path.join(os.getcwd(), 'init'), 'a').write('{}')"
    check = "import os; assert open(os.path.join(os.getcwd(), 'init')).read() == 'ab'; print('{}')"
    pod = pod_manifest("multi", "unused")
    pod["spec"]["initContainers"] = [
        python_container(write.format("a"), name="init-a"),
        python_container(write.format("b"), name="init-b"),
    ]
    pod["spec"]["containers"] = [
        python_container(check.format("one"), name="one"),
        python_container(check.format("two"), name="two"),
    ]
    core.create_namespaced_pod(namespace, pod)
    done = wait_phase(cluster, core, namespace, "multi", "Succeeded", "Failed")
    assert done.status.phase == "Succeeded", cluster.pod_log(namespace, "multi")
    assert [s.state.terminated.exit_code for s in done.status.init_container_statuses] == [0, 0]
    assert "one" in cluster.pod_log(namespace, "multi", "one")
    assert "two" in cluster.pod_log(namespace, "multi", "two")
