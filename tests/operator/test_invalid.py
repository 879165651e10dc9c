"""Invalid manifests: the API server rejects schema errors and spec edits (CEL); semantic
errors are reported in status with an ``Invalid`` condition naming the field, once."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client

from tests.cluster import Cluster
from tests.operator.conftest import GROUP, VERSION, create_search, events, tiny_search, wait_phase


def test_invalid_manifests_are_rejected_or_reported(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    op = operator_factory()
    with pytest.raises(client.ApiException) as info:
        create_search(k8s, namespace, tiny_search("zero", trials=0))
    assert info.value.status == 422 and "spec.trials" in info.value.body

    bad = tiny_search(
        "semantic",
        parameters=[{"name": "lr", "type": "double", "min": 0.0, "max": 0.5, "scale": "log"}],
    )
    create_search(k8s, namespace, bad)
    search = wait_phase(cluster, k8s, namespace, "semantic", ("Invalid",), timeout=60)
    (cond,) = [c for c in search["status"]["conditions"] if c["type"] == "Invalid"]
    assert cond["status"] == "True" and cond["reason"] == "SpecInvalid"
    assert "spec.parameters[0]" in cond["message"], cond["message"]
    assert cond["observedGeneration"] == search["metadata"]["generation"]
    time.sleep(3)  # no crash loop: reported once, the operator keeps running
    assert [r for _, r, _ in events(k8s, namespace, "semantic")].count("Invalid") == 1
    assert op.proc.poll() is None

    custom = client.CustomObjectsApi(k8s)
    create_search(k8s, namespace, tiny_search("edited"))
    with pytest.raises(client.ApiException) as info:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, "hypersearches", "edited", {"spec": {"trials": 9}}
        )
    assert info.value.status == 422
    assert "cannot change after creation" in info.value.body
