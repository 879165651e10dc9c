"""A cluster stops completely, pod processes included, when its user fails mid-way; the
logs stay. This second cluster also uses the agent's own binding (no kube-scheduler)."""

from __future__ import annotations

import pytest
from kubernetes import client

from tests.cluster import Cluster
from tests.harness.pods import PRINT_PID, alive, pod_manifest, wait_phase, wait_pid


class Boom(Exception):
    pass


def test_cleanup_after_failure() -> None:
    c = Cluster(nodes=["solo:cpu=2,memory=4Gi"], scheduler=False)
    pids: list[int] = []
    with pytest.raises(Boom), c:
        assert c.started_seconds > 0
        pids += [p.pid for p in c.control_plane.procs.values()]
        assert c.agent is not None
        pids.append(c.agent.pid)
        ns = c.create_namespace("lifecycle")
        with c.api_client() as api:
            core = client.CoreV1Api(api)
            core.create_namespaced_pod(
                ns, pod_manifest("sleeper", PRINT_PID + "import time; time.sleep(600)")
            )
            pod = wait_phase(c, core, ns, "sleeper", "Running")
            assert pod.spec.node_name == "solo"
        pids.append(wait_pid(c, ns, "sleeper"))
        assert all(alive(p) for p in pids)
        raise Boom

    assert not [p for p in pids if alive(p)]
    assert (c.log_dir / "kube-apiserver.log").stat().st_size > 0
    assert not (c.run_dir / "etcd-data").exists()
