"""kubernetes-validate (the Kubernetes OpenAPI schemas it bundles, strict: unknown fields are
errors) on what a user applies: the rendered Helm chart under several value sets, every file of
manifests/, and the pod templates inside the example searches (the CRD keeps them as
preserve-unknown-fields, so the API server would accept a misspelt field there silently).
The Kubernetes version is the test control plane's (tests/k8s/go/go.mod)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.lint.dockerfile import REPO
from tests.lint.render import helm_template, kubernetes_version

Obj = dict[str, Any]
# Kinds with no Kubernetes schema: this project's CRDs (their own schema is checked by the API
# server in tests/harness/test_crd.py) and the Prometheus Operator's (tests/prometheus).
CUSTOM_GROUPS = ("hypersearch.dev/", "monitoring.coreos.com/")

VALUE_SETS: dict[str, list[str]] = {
    "defaults": [],
    "everything on": [
        "--set", "metrics.serviceMonitor.enabled=true",
        "--set", "trainerMetrics.podMonitor.enabled=true",
        "--set", "prometheusRule.enabled=true",
        "--set", "replicaCount=2",
        "--set", "workloadKinds={kubeflow.org/v1/PyTorchJob}",
        "--set", "rbac.extraRules[0].apiGroups={kubeflow.org}",
        "--set", "rbac.extraRules[0].resources={pytorchjobs}",
        "--set", "rbac.extraRules[0].verbs={get,list,watch,create,delete}",
        "--set", "serviceAccount.annotations.team=ml",
        "--set", "podAnnotations.team=ml",
        "--set", "priorityClassName=high",
    ],
    "namespaced, no leader election": [
        "--set", "rbac.scope=namespace",
        "--set", "watchNamespaces={ml,ml-dev}",
        "--set", "leaderElection.enabled=false",
        "--set", "admissionPolicy.enabled=false",
        "--set", "probes.enabled=false",
        "--set", "metrics.service.enabled=false",
        "--set", "grafana.dashboard.enabled=false",
    ],
}  # fmt: skip


def validate(obj: Obj, where: str) -> str:
    """'' when valid or of a custom kind, else the first schema error."""
    if obj["apiVersion"].startswith(CUSTOM_GROUPS):
        return ""
    try:
        kubernetes_validate.validate(obj, kubernetes_version(), strict=True)
    except kubernetes_validate.ValidationError as e:
        path = "/".join(str(p) for p in e.path)
        return f"{where} {obj['kind']}/{obj['metadata'].get('name')}: {path}: {e.message}"
    return ""


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_rendered_chart_is_valid_kubernetes(values: str, tmp_path: Path) -> None:
    objs = helm_template(tmp_path, "--include-crds", *VALUE_SETS[values])
    assert any(o["kind"] == "Deployment" for o in objs)
    errors = [e for o in objs if (e := validate(o, f"chart ({values})"))]
    assert not errors, "\n".join(errors)


MANIFESTS = sorted((REPO / "manifests").rglob("*.yaml"))


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(REPO)))
def test_manifests_are_valid_kubernetes(path: Path) -> None:
    where = str(path.relative_to(REPO))
    objs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert objs
    errors = [e for o in objs if (e := validate(o, where))]
    # A search's trial pod template, as the PodTemplate object it is.
    for o in objs:
        if o["kind"] == "HyperSearch":
            pod_template = {"apiVersion": "v1", "kind": "PodTemplate",
                            "metadata": {"name": o["metadata"]["name"]},
                            "template": o["spec"]["trialTemplate"]}  # fmt: skip
            errors.append(validate(pod_template, f"{where} spec.trialTemplate"))
    errors = [e for e in errors if e]
    assert not errors, "\n".join(errors)
