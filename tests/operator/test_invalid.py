"""Invalid manifests: the API server rejects schema errors and spec edits (CEL); semantic
errors are reported in status with an ``Invalid`` condition naming the field, once."""

from __future__ import annotations

import re
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

    # No crash loop. Kopf retries a failed daemon only after its backoff (60 s), but it logs
    # the failure the moment it happens ("kopf.objects Daemon 'search_daemon' failed with an
    # exception and will try again in 60 seconds"): the first turn of a loop shows at once.
    # A valid search created afterwards and running is the sign that the operator has moved
    # on, long after the invalid search's daemon finished its turn. (Kopf's log line does not
    # name the object, so no handler of this operator may have failed.)
    create_search(k8s, namespace, tiny_search("edited"))
    wait_phase(cluster, k8s, namespace, "edited", ("Running",), timeout=120)
    failures = [line for line in op.log().splitlines() if re.search(r"kopf\.\S+ .*failed", line)]
    assert not failures, "\n".join(failures)
    posted = events(k8s, namespace, "semantic")
    assert [r for _, r, _ in posted].count("Invalid") == 1, posted
    assert op.proc.poll() is None

    custom = client.CustomObjectsApi(k8s)
    with pytest.raises(client.ApiException) as info:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, "hypersearches", "edited", {"spec": {"trials": 9}}
        )
    assert info.value.status == 422
    assert "cannot change after creation" in info.value.body
