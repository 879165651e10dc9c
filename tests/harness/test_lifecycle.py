"""A cluster stops completely, pod processes included, when its user fails mid-way; the
logs stay. This second cluster also uses the agent's own binding (no kube-scheduler), an
image entrypoint and a fixed pod IP prefix."""

from __future__ import annotations

import sys

import pytest
from kubernetes import client

from tests.cluster import Cluster
from tests.harness.pods import PRINT_PID, alive, pod_manifest, wait_phase, wait_pid


class Boom(Exception):
    pass


def test_cleanup_after_failure() -> None:
    c = Cluster(
        nodes=["solo:cpu=2,memory=4Gi"],
        scheduler=False,
        entrypoints={"probe:1": f"{sys.executable} -c"},
        pod_ip_prefix="127.42",
    )
    pids: list[int] = []
    with pytest.raises(Boom), c:
        assert c.started_seconds > 0
        pids += [p.pid for p in c.control_plane.procs.values()]
        assert c.agent is not None
        pids.append(c.agent.pid)
        ns = c.create_namespace("lifecycle")
        with c.api_client() as api:
            core = client.CoreV1Api(api)
            sleeper = pod_manifest("sleeper", "unused")
            # No command: the agent runs the image's configured entrypoint with the args.
            sleeper["spec"]["containers"][0] = {
                "name": "main",
                "image": "probe:1",
                "args": [PRINT_PID + "import time; time.sleep(600)"],
            }
            core.create_namespaced_pod(ns, sleeper)
            pod = wait_phase(c, core, ns, "sleeper", "Running")
            assert pod.spec.node_name == "solo"
            assert pod.status.pod_ip.startswith("127.42.")
        pids.append(wait_pid(c, ns, "sleeper"))
        assert all(alive(p) for p in pids)
        raise Boom

    assert not [p for p in pids if alive(p)]
    assert (c.log_dir / "kube-apiserver.log").stat().st_size > 0
    assert not (c.run_dir / "etcd-data").exists()
