"""The API server is real: CRDs are accepted and their structural schemas enforced."""

from __future__ import annotations

import pytest
from kubernetes import client

from tests.cluster import Cluster

GROUP = "harness.hypersearch.test"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "properties": {"size": {"type": "integer", "minimum": 1}},
                            },
                            "status": {
                                "type": "object",
                                "properties": {"phase": {"type": "string"}},
                            },
                        },
                    }
                },
            }
        ],
    },
}


def widget(name: str, size: object) -> dict[str, object]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"size": size},
    }


def test_crd_schema_is_enforced(cluster: Cluster, k8s: client.ApiClient, namespace: str) -> None:
    ext = client.ApiextensionsV1Api(k8s)
    try:
        ext.create_custom_resource_definition(CRD)
    except client.ApiException as e:
        assert e.status == 409  # created by an earlier run of this test in the session

    def established() -> bool:
        crd = ext.read_custom_resource_definition(CRD["metadata"]["name"])  # type: ignore[index]
        conds = crd.status.conditions or []
        return any(c.type == "Established" and c.status == "True" for c in conds)

    cluster.wait(established, 30, "the CRD to be established")
    custom = client.CustomObjectsApi(k8s)
    ok = custom.create_namespaced_custom_object(GROUP, "v1", namespace, "widgets", widget("ok", 3))
    assert ok["spec"]["size"] == 3

    for bad in (0, "three"):
        with pytest.raises(client.ApiException) as info:
            custom.create_namespaced_custom_object(
                GROUP, "v1", namespace, "widgets", widget(f"bad-{bad}", bad)
            )
        assert info.value.status == 422, info.value.body
    missing = widget("missing", 1)
    missing["spec"] = {}
    with pytest.raises(client.ApiException) as info:
        custom.create_namespaced_custom_object(GROUP, "v1", namespace, "widgets", missing)
    assert info.value.status == 422

    # The status subresource is separate: a status write through the main resource is ignored.
    custom.patch_namespaced_custom_object(
        GROUP, "v1", namespace, "widgets", "ok", {"status": {"phase": "Ignored"}}
    )
    custom.patch_namespaced_custom_object_status(
        GROUP, "v1", namespace, "widgets", "ok", {"status": {"phase": "Ready"}}
    )
    got = custom.get_namespaced_custom_object(GROUP, "v1", namespace, "widgets", "ok")
    assert got["status"] == {"phase": "Ready"}
