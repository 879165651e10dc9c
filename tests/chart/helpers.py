"""Shared by the chart and Prometheus tests: render the chart, install it so that the test
cluster's node agent runs the operator as a local process, and stub monitoring CRDs."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from tests.cluster import Cluster
from tests.operator.conftest import REPO, service_account_kubeconfig

CHART = REPO / "charts" / "hypersearch"
DASHBOARD = CHART / "dashboards" / "hypersearch.json"
Obj = dict[str, Any]

# Prometheus Operator kinds the chart renders when enabled. Their real CRDs are not available
# offline, so these stubs only let the API server accept the kinds (apiVersion, kind, metadata);
# the specs are checked by the Prometheus end-to-end test instead (rules, relabelings).
MONITORING_KINDS = {"ServiceMonitor": "servicemonitors", "PodMonitor": "podmonitors",
                    "PrometheusRule": "prometheusrules"}  # fmt: skip


def render(cluster: Cluster, release: str, namespace: str, *args: str) -> list[Obj]:
    """`helm template` as parsed objects (empty documents dropped)."""
    out = cluster.helm("template", release, str(CHART), "-n", namespace, *args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def write_values(path: Path, values: Obj) -> Path:
    path.write_text(yaml.safe_dump(values))
    return path


def install_monitoring_stub_crds(cluster: Cluster, api: client.ApiClient) -> None:
    """Schema-less monitoring.coreos.com CRDs, so monitors and rules can be dry-run created."""
    ext = client.ApiextensionsV1Api(api)
    for kind, plural in MONITORING_KINDS.items():
        body = {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.monitoring.coreos.com"},
            "spec": {
                "group": "monitoring.coreos.com",
                "scope": "Namespaced",
                "names": {"kind": kind, "plural": plural, "singular": kind.lower(),
                          "listKind": f"{kind}List"},
                "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                    "openAPIV3Schema": {"type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True}}}],
            },
        }  # fmt: skip
        try:
            ext.create_custom_resource_definition(body)
        except client.ApiException as e:
            if e.status != 409:
                raise

    def established() -> bool:
        for plural in MONITORING_KINDS.values():
            crd = ext.read_custom_resource_definition(f"{plural}.monitoring.coreos.com")
            conds = crd.status.conditions or []
            if not any(c.type == "Established" and c.status == "True" for c in conds):
                return False
        return True

    cluster.wait(established, 60, "monitoring CRDs established")


def operator_values(kubeconfig: Path, replicas: int, **more: Any) -> Obj:
    """Values that make the chart's pod runnable by the node agent: the venv's entry point,
    a kubeconfig (the agent mounts no ServiceAccount token), /metrics on the pod's own IP."""
    values: Obj = {
        "command": [sys.executable, "-m", "hypersearch.kube"],
        "extraArgs": [f"--kubeconfig={kubeconfig}"],
        "replicaCount": replicas,
        "deadlines": {"startupSeconds": 90},
        "leaderElection": {"leaseSeconds": 4},
        "metrics": {"bindAddress": "$(POD_IP)"},
        "rbac": {"scope": "namespace"},  # never touch other tests' namespaces
        # The test runs its searches in the release namespace (one namespace per test), which
        # a real install must not do (docs/security.md).
        "manageOperatorNamespace": True,
        # A cluster-wide policy would bind every other test's namespace too; the policy is
        # exercised in tests/operator/test_security.py and dry-run created in test_chart.py.
        "admissionPolicy": {"enabled": False},
    }
    values.update(more)
    return values


def install_operator(
    cluster: Cluster,
    api: client.ApiClient,
    namespace: str,
    release: str,
    tmp_path: Path,
    **more: Any,
) -> client.V1Pod:
    """`helm install` with no replica, a real token of the chart's ServiceAccount, then
    `helm upgrade` to one replica; returns the operator pod once its /metrics answers."""
    kubeconfig = tmp_path / "operator.kubeconfig"
    values = tmp_path / "values.yaml"
    write_values(values, operator_values(kubeconfig, 0, **more))
    cluster.helm("install", release, str(CHART), "-n", namespace, "-f", str(values),
                 "--wait", "--timeout", "120s")  # fmt: skip
    sa = render(cluster, release, namespace, "-f", str(values), "-s",
                "templates/serviceaccount.yaml")[0]["metadata"]["name"]  # fmt: skip
    service_account_kubeconfig(cluster, api, namespace, sa, kubeconfig)
    write_values(values, operator_values(kubeconfig, 1, **more))
    cluster.helm("upgrade", release, str(CHART), "-n", namespace, "-f", str(values))
    return wait_operator_pod(cluster, api, namespace, release)


def wait_operator_pod(
    cluster: Cluster, api: client.ApiClient, namespace: str, release: str, timeout: float = 120
) -> client.V1Pod:
    core = client.CoreV1Api(api)
    selector = f"app.kubernetes.io/instance={release},app.kubernetes.io/component=operator"

    def ready() -> client.V1Pod | None:
        for pod in core.list_namespaced_pod(namespace, label_selector=selector).items:
            if pod.status.phase == "Running" and pod.status.pod_ip:
                try:
                    url = f"http://{pod.status.pod_ip}:8080/metrics"
                    with urllib.request.urlopen(url, timeout=2) as r:
                        if b"hypersearch_operator_" in r.read():
                            return pod
                except OSError:
                    pass
        return None

    pod: client.V1Pod = cluster.wait(ready, timeout, "the chart's operator pod to serve /metrics")
    return pod
