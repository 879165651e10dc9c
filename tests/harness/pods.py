"""Small builders and readers for pods in harness tests."""

from __future__ import annotations

import os
import sys
from typing import Any

from kubernetes import client

from tests.cluster import Cluster


def python_container(code: str, name: str = "main", **extra: Any) -> dict[str, Any]:
    """A container that runs `code` with this interpreter (the image is ignored)."""
    return {"name": name, "image": "ignored", "command": [sys.executable, "-c", code], **extra}


def pod_manifest(name: str, code: str, restart: str = "Never", **container: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 5,
            "containers": [python_container(code, **container)],
        },
    }


def read_pod(core: client.CoreV1Api, ns: str, name: str) -> client.V1Pod | None:
    try:
        return core.read_namespaced_pod(name, ns)
    except client.ApiException as e:
        if e.status == 404:
            return None
        raise


def wait_phase(
    cluster: Cluster, core: client.CoreV1Api, ns: str, name: str, *phases: str
) -> client.V1Pod:
    """Waits until the pod reaches one of phases and returns it."""

    def reached() -> client.V1Pod | None:
        pod = read_pod(core, ns, name)
        return pod if pod is not None and pod.status.phase in phases else None

    return cluster.wait(reached, 60, f"pod {ns}/{name} to reach {phases}")


PRINT_PID = "import os; print(f'PID={os.getpid()}', flush=True); "


def wait_pid(cluster: Cluster, ns: str, name: str) -> int:
    """The pid a pod printed as PID=<n> (see PRINT_PID)."""

    def pid() -> int | None:
        for line in cluster.pod_log(ns, name).splitlines():
            if line.startswith("PID="):
                return int(line[4:])
        return None

    return cluster.wait(pid, 30, f"pod {ns}/{name} to print its pid")


def alive(pid: int) -> bool:
    """Whether a process exists (the agent reaps its children, so no zombies linger)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
