"""One schema in both places: what ``hypersearch validate`` rejects locally, a real API server
with the CRDs of ``manifests/crds/`` rejects too, at the same field, and both fill in the same
defaults. (The packaged copy of the CRD is compared with ``manifests/`` in
tests/engine/test_spec.py.)"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypersearch.spec import check
from hypersearch.spec.schema import apply_defaults
from kubernetes import client

from tests.engine.test_spec import MINIMAL, SCHEMA_VIOLATIONS, doc
from tests.operator.conftest import GROUP, VERSION


def server_create(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create ``body`` as a dry run with strict field validation (unknown fields are errors)."""
    created: dict[str, Any] = client.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "hypersearches", body, dry_run="All", field_validation="Strict"
    )
    return created


def test_the_server_fills_in_the_same_defaults_as_the_local_schema(
    k8s: client.ApiClient, namespace: str, crds: None
) -> None:
    created = server_create(k8s, namespace, copy.deepcopy(MINIMAL))
    local = apply_defaults(MINIMAL)
    assert created["spec"] == local["spec"]
    _, errors = check(MINIMAL)
    assert errors == []


@pytest.mark.parametrize(("change", "path"), SCHEMA_VIOLATIONS)
def test_the_server_rejects_what_the_local_schema_rejects(
    k8s: client.ApiClient, namespace: str, crds: None, change: dict[str, Any], path: str
) -> None:
    body = doc(**change)
    _, local = check(body)
    assert path in {e.path for e in local}
    with pytest.raises(client.ApiException) as info:
        server_create(k8s, namespace, body)
    # 422 for a schema violation; 400 for an unknown field under strict field validation.
    assert info.value.status in (400, 422), info.value.body
    assert path in info.value.body, info.value.body
