"""Deleting a running pod terminates its process: SIGTERM, the grace period, then SIGKILL."""

from __future__ import annotations

import time

from kubernetes import client

from tests.cluster import Cluster
from tests.harness.pods import PRINT_PID, alive, pod_manifest, read_pod, wait_phase, wait_pid

GRACEFUL = (
    PRINT_PID
    + """
import signal, sys, time
def bye(*_):
    print("got SIGTERM", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
time.sleep(600)
"""
)

GRACE = 4  # seconds of the stubborn pod's grace period

STUBBORN = (
    PRINT_PID
    + """
import signal, time
signal.signal(signal.SIGTERM, lambda *_: print("ignoring SIGTERM", flush=True))
while True:
    time.sleep(0.1)
"""
)


def test_deleted_pod_gets_sigterm(cluster: Cluster, k8s: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(k8s)
    core.create_namespaced_pod(namespace, pod_manifest("graceful", GRACEFUL))
    wait_phase(cluster, core, namespace, "graceful", "Running")
    pid = wait_pid(cluster, namespace, "graceful")
    assert alive(pid)

    core.delete_namespaced_pod("graceful", namespace)
    cluster.wait(lambda: read_pod(core, namespace, "graceful") is None, 30, "pod removal")
    assert not alive(pid)
    assert "got SIGTERM" in cluster.pod_log(namespace, "graceful")


def test_sigkill_after_grace_period(
    cluster: Cluster, k8s: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(k8s)
    core.create_namespaced_pod(namespace, pod_manifest("stubborn", STUBBORN))
    wait_phase(cluster, core, namespace, "stubborn", "Running")
    pid = wait_pid(cluster, namespace, "stubborn")

    began = time.monotonic()
    core.delete_namespaced_pod("stubborn", namespace, grace_period_seconds=GRACE)
    # Watch the process until it dies (no assumption on how long a loaded machine takes to
    # deliver signals): the last moment it was seen alive bounds its death from below.
    last_alive = began
    while alive(pid):
        last_alive = time.monotonic()
        assert last_alive - began < GRACE + 30, "not killed 30 s after its grace period"
        time.sleep(0.02)
    # Seen alive at least half the grace period after the delete (the other half is margin for
    # a slow observer): not killed at once, nor after a fraction of its grace period.
    assert last_alive - began >= GRACE / 2, f"killed {last_alive - began:.2f}s after the delete"
    assert "ignoring SIGTERM" in cluster.pod_log(namespace, "stubborn")
    cluster.wait(lambda: read_pod(core, namespace, "stubborn") is None, 30, "pod removal")
