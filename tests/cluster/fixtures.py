"""Pytest fixtures for tests that need a real cluster (registered in tests/conftest.py).

`cluster` is session-scoped: one control plane and node agent for the whole run. A missing
binary makes the fixture error, which fails the tests using it; nothing is skipped. When such
a test fails, the tails of the component logs are attached to its report.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from typing import Any

import pytest
from kubernetes import client

from tests.cluster.cluster import Cluster

_CLUSTER_KEY = pytest.StashKey[Cluster]()


@pytest.fixture(scope="session")
def cluster_options() -> dict[str, Any]:
    """Keyword arguments for Cluster(); override this fixture in a conftest.py to change the
    nodes, entrypoints or pod IP prefix of the session's cluster."""
    return {}


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest, cluster_options: dict[str, Any]) -> Iterator[Cluster]:
    """The running test cluster (control plane + node agent), stopped at session end."""
    c = Cluster(**cluster_options).start()
    request.config.stash[_CLUSTER_KEY] = c
    try:
        yield c
    finally:
        c.stop()
        del request.config.stash[_CLUSTER_KEY]


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace named after the test, deleted (asynchronously) afterwards."""
    prefix = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:30] or "test"
    name = cluster.create_namespace(prefix)
    yield name
    cluster.delete_namespace(name)


@pytest.fixture
def k8s(cluster: Cluster) -> Iterator[client.ApiClient]:
    """An admin ApiClient for one test, closed afterwards."""
    with cluster.api_client() as api:
        yield api


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    """Attaches the cluster's log tails to the report of a failed cluster test."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    c = item.config.stash.get(_CLUSTER_KEY, None)
    if report.failed and c is not None and "cluster" in getattr(item, "fixturenames", ()):
        ns = getattr(item, "funcargs", {}).get("namespace")
        report.sections.append(("test cluster logs", c.failure_report(namespace=ns)))
