"""The Helm chart: lint, render, server-side dry run of every object, install and a search."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.dynamic import DynamicClient

from tests.chart.helpers import (
    CHART,
    DASHBOARD,
    install_monitoring_stub_crds,
    install_operator,
    render,
    write_values,
)
from tests.cluster import Cluster
from tests.operator.conftest import (
    MANIFESTS,
    create_search,
    tiny_search,
    trials,
    wait_phase,
)

EVERYTHING = {
    "replicaCount": 3,
    "rbac": {"scope": "namespace", "extraRules": [
        {"apiGroups": ["kubeflow.org"], "resources": ["pytorchjobs"], "verbs": ["get", "create"]}]},
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
    "trainerMetrics": {"podMonitor": {"enabled": True, "port": 9200}},
    "prometheusRule": {"enabled": True},
    "serviceAccount": {"name": "hs-op", "annotations": {"a": "b"}},
    "grafana": {"dashboard": {"labels": {"grafana_dashboard": "1", "team": "ml"}}},
    "verbose": True,
    "extraEnv": [{"name": "X", "value": "1"}],
    "podLabels": {"team": "ml"},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "manageOperatorNamespace": True,
    "workloadKinds": ["kubeflow.org/v1/PyTorchJob"],
}  # fmt: skip


def test_chart_crds_are_the_manifests(cluster: Cluster) -> None:
    """One source: the chart's crds/ holds exactly manifests/crds, also once packaged."""
    chart_crds = sorted(p.name for p in (CHART / "crds").iterdir())
    assert chart_crds == sorted(p.name for p in (MANIFESTS / "crds").glob("*.yaml"))
    for name in chart_crds:
        assert (CHART / "crds" / name).read_bytes() == (MANIFESTS / "crds" / name).read_bytes()
    rendered = [
        d
        for d in yaml.safe_load_all(
            cluster.helm("template", "x", str(CHART), "--include-crds").stdout
        )
        if d and d["kind"] == "CustomResourceDefinition"
    ]
    expected = [yaml.safe_load((MANIFESTS / "crds" / n).read_text()) for n in chart_crds]
    key = lambda d: d["metadata"]["name"]  # noqa: E731
    assert sorted(rendered, key=key) == sorted(expected, key=key)


@pytest.mark.parametrize("values", [{}, EVERYTHING], ids=["default", "everything"])
def test_lint_and_template(cluster: Cluster, tmp_path: Path, values: dict[str, Any]) -> None:
    path = write_values(tmp_path / "values.yaml", values)
    lint = cluster.helm("lint", "--strict", str(CHART), "-f", str(path))
    assert "0 chart(s) failed" in lint.stdout
    objs = render(cluster, "rel", "hs-system", "-f", str(path))
    kinds = sorted(o["kind"] for o in objs)
    (dep,) = [o for o in objs if o["kind"] == "Deployment"]
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["resources"]["requests"] and c["resources"]["limits"]
    (cm,) = [o for o in objs if o["kind"] == "ConfigMap"]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["hypersearch.json"]) == json.loads(DASHBOARD.read_text())
    if not values:
        assert kinds == ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Role",
                         "RoleBinding", "Service", "ServiceAccount", "ValidatingAdmissionPolicy",
                         "ValidatingAdmissionPolicyBinding"]  # fmt: skip
        assert not any(a.startswith("--namespace") for a in c["args"])
        assert "--lease-name=rel-hypersearch" in c["args"]
        assert "--manage-own-namespace" not in c["args"]
        (policy,) = [o for o in objs if o["kind"] == "ValidatingAdmissionPolicy"]
        assert policy["spec"]["variables"][0]["expression"] == "['batch/v1/Job']"
    else:
        # Cluster-wide: only reading the watched Namespace objects (their annotation).
        (reader,) = [o for o in objs if o["kind"] == "ClusterRole"]
        assert reader["rules"] == [{"apiGroups": [""], "resources": ["namespaces"],
                                    "resourceNames": ["hs-system"], "verbs": ["get"]}]  # fmt: skip
        assert {"ServiceMonitor", "PodMonitor", "PrometheusRule"} <= set(kinds)
        assert dep["spec"]["replicas"] == 3 and "--namespace=hs-system" in c["args"]
        assert "--manage-own-namespace" in c["args"]
        assert "--workload-kind=kubeflow.org/v1/PyTorchJob" in c["args"]
        (policy,) = [o for o in objs if o["kind"] == "ValidatingAdmissionPolicy"]
        assert policy["metadata"]["name"] == "rel-hypersearch-safety"
        assert policy["spec"]["variables"][0]["expression"] == (
            "['batch/v1/Job', 'kubeflow.org/v1/PyTorchJob']"
        )
        (binding,) = [o for o in objs if o["kind"] == "ValidatingAdmissionPolicyBinding"]
        assert binding["spec"]["policyName"] == "rel-hypersearch-safety"
    leases = [r for o in objs if o["kind"] == "Role" for r in o["rules"]
              if "leases" in r["resources"]]  # fmt: skip
    assert {v for r in leases if not r.get("resourceNames") for v in r["verbs"]} == {"create"}
    assert [r["resourceNames"] for r in leases if r.get("resourceNames")] == [["rel-hypersearch"]]


def test_values_are_checked(cluster: Cluster) -> None:
    """The schema and the template refuse values that would deploy something broken."""
    bad = cluster.helm("template", "x", str(CHART), "--set", "rbac.scope=everywhere", check=False)
    assert bad.returncode != 0 and "scope" in bad.stderr
    racing = cluster.helm(
        "template", "x", str(CHART), "--set", "replicaCount=2,leaderElection.enabled=false",
        check=False,
    )  # fmt: skip
    assert racing.returncode != 0 and "leaderElection" in racing.stderr
    # Namespaced mode watching its own namespace would let searches use the operator's token.
    own = cluster.helm("template", "x", str(CHART), "-n", "ml", "--set", "rbac.scope=namespace",
                       check=False)  # fmt: skip
    assert own.returncode != 0 and "watchNamespaces includes the release namespace ml" in own.stderr
    elsewhere = render(cluster, "x", "hypersearch-system", "--set", "rbac.scope=namespace",
                       "--set", "watchNamespaces={ml}")  # fmt: skip
    assert {o["metadata"].get("namespace") for o in elsewhere if o["kind"] == "Role"} == {
        "ml", "hypersearch-system"}  # fmt: skip
    single = render(cluster, "x", "ns", "--set", "leaderElection.enabled=false")
    (dep,) = [o for o in single if o["kind"] == "Deployment"]
    assert "--no-leader-election" in dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert dep["spec"]["strategy"]["type"] == "Recreate"
    # Deadline defaults for searches that leave spec.deadlines unset; a misspelt one is refused.
    timed = render(cluster, "x", "ns", "--set",
                   "deadlines.pendingSeconds=45,deadlines.workloadConditionSeconds=900")  # fmt: skip
    (dep,) = [o for o in timed if o["kind"] == "Deployment"]
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--pending-timeout=45" in args and "--workload-condition-timeout=900" in args
    assert not any(a.startswith("--hang-timeout") for a in args)
    typo = cluster.helm("template", "x", str(CHART), "--set", "deadlines.pendingSecond=45",
                        check=False)  # fmt: skip
    assert typo.returncode != 0 and "pendingSecond" in typo.stderr


@pytest.mark.usefixtures("crds")
@pytest.mark.parametrize("values", [{}, EVERYTHING], ids=["default", "everything"])
def test_every_object_passes_server_side_dry_run(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, tmp_path: Path,
    values: dict[str, Any],
) -> None:  # fmt: skip
    """Each rendered object is accepted by the real API server (server-side apply, dry run),
    and the operator pod passes the `restricted` Pod Security admission."""
    install_monitoring_stub_crds(cluster, k8s)
    core = client.CoreV1Api(k8s)
    core.patch_namespace(
        namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}
    )
    path = write_values(tmp_path / "values.yaml", values)
    release = f"dry-{namespace[-8:]}"
    objs = render(cluster, release, namespace, "-f", str(path), "--include-crds")
    dyn = DynamicClient(k8s)
    for obj in objs:
        res = dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        dyn.server_side_apply(
            res, body=obj, namespace=obj["metadata"].get("namespace"),
            field_manager="chart-test", dry_run="All", force_conflicts=True,
        )  # fmt: skip
    (dep,) = [o for o in objs if o["kind"] == "Deployment"]
    template = dep["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "op", **template["metadata"]},
           "spec": template["spec"]}  # fmt: skip
    (sa,) = [o for o in objs if o["kind"] == "ServiceAccount"]
    core.create_namespaced_service_account(namespace, sa)  # admission looks it up
    # Enforced for Pods (Deployments only warn): a violation would be a 403 here.
    core.create_namespaced_pod(namespace, pod, dry_run="All")


@pytest.mark.usefixtures("crds")
def test_helm_install_runs_a_search(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """`helm install` brings up the operator as a pod (run by the node agent) under the chart's
    namespaced RBAC; it drives a small two-stage search to success; uninstall removes it."""
    pod = install_operator(cluster, k8s, namespace, "hs", tmp_path)
    assert pod.spec.service_account_name == "hs-hypersearch"
    create_search(k8s, namespace, tiny_search("tiny"))
    search = wait_phase(cluster, k8s, namespace, "tiny", ("Succeeded", "Failed", "Invalid"), 300)
    assert search["status"]["phase"] == "Succeeded", search["status"].get("reason")
    assert {t["metadata"]["name"] for t in trials(k8s, namespace)} >= {"tiny-000", "tiny-004"}
    assert "hypersearch" in cluster.pod_log(namespace, pod.metadata.name)
    cluster.helm("uninstall", "hs", "-n", namespace, "--wait", "--timeout", "60s")
    apps = client.AppsV1Api(k8s)
    assert not apps.list_namespaced_deployment(namespace).items
