"""Fixtures of the install tests: the real images and a real node (tests/install/node.py).

The node joins a control plane of its own (not the session's `cluster`, whose agent nodes
would take pods): one agent node is registered there, as Cluster requires, and cordoned, so
every pod runs on the kubelet.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from kubernetes import client

from tests.cluster.cluster import Cluster
from tests.install.node import NODE, RealNode, Timings, build_images, node_lock

_TIMINGS = Timings()


@pytest.fixture(scope="session")
def install_timings() -> Timings:
    return _TIMINGS


@pytest.fixture(scope="package")
def real_node(install_timings: Timings) -> Iterator[RealNode]:
    """The real node, Ready, with the operator and trainer images loaded, shared by the modules
    of tests/install (test_data.py, then test_install.py, whose last test stops it); stopped,
    with its control plane, and the machine's node lock released after tests/install (not at
    the end of the session: the rest of the suite should not carry them)."""
    images = build_images(install_timings)
    began = time.monotonic()
    with node_lock(timeout=1800):
        install_timings.parts["waiting for the machine's node lock"] = round(
            time.monotonic() - began, 1
        )
        with install_timings.measure("control plane start"):
            cluster = Cluster(nodes=["hs-agent-cordoned:cpu=1,memory=1Gi,pods=1"]).start()
        node = RealNode(cluster, images, install_timings)
        try:
            with cluster.api_client() as api:
                client.CoreV1Api(api).patch_node(
                    "hs-agent-cordoned", {"spec": {"unschedulable": True}}
                )
            node.up()
            yield node
        finally:
            try:
                node.down()
            finally:
                cluster.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _TIMINGS.parts:
        terminalreporter.section("install tests: set-up and phase timings (s)")
        for name, seconds in _TIMINGS.parts.items():
            terminalreporter.write_line(f"{seconds:8.1f}  {name}")
        terminalreporter.write_line(f"(node: {NODE})")
