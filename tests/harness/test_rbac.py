"""RBAC is on: an impersonated ServiceAccount is denied until a RoleBinding allows it, and
the controller-manager's token controller fills ServiceAccount token Secrets."""

from __future__ import annotations

import base64

import pytest
from kubernetes import client

from tests.cluster import Cluster


def test_impersonated_service_account_obeys_rbac(
    cluster: Cluster, k8s: client.ApiClient, namespace: str
) -> None:
    core, rbac = client.CoreV1Api(k8s), client.RbacAuthorizationV1Api(k8s)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "reader"}})
    user = f"system:serviceaccount:{namespace}:reader"
    with cluster.api_client(impersonate=user) as api:
        as_sa = client.CoreV1Api(api)
        with pytest.raises(client.ApiException) as info:
            as_sa.list_namespaced_config_map(namespace)
        assert info.value.status == 403

        rbac.create_namespaced_role(
            namespace,
            {
                "metadata": {"name": "cm-reader"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
            },
        )
        rbac.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": "cm-reader"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "cm-reader",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}],
            },
        )

        def allowed() -> bool:
            try:
                as_sa.list_namespaced_config_map(namespace)
                return True
            except client.ApiException as e:
                assert e.status == 403
                return False

        cluster.wait(allowed, 30, "the RoleBinding to take effect")
        with pytest.raises(client.ApiException) as info:
            as_sa.list_namespaced_secret(namespace)  # still not granted
        assert info.value.status == 403


def test_token_controller_fills_sa_token_secret(
    cluster: Cluster, k8s: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(k8s)
    core.create_namespaced_secret(
        namespace,
        {
            "metadata": {
                "name": "default-token",
                "annotations": {"kubernetes.io/service-account.name": "default"},
            },
            "type": "kubernetes.io/service-account-token",
        },
    )

    def token() -> str | None:
        data = core.read_namespaced_secret("default-token", namespace).data or {}
        return base64.b64decode(data["token"]).decode() if "token" in data else None

    jwt = cluster.wait(token, 30, "the token controller")
    assert jwt.count(".") == 2
