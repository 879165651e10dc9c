"""Multi-tenant safety on the real control plane (docs/security.md records each attack).

A tenant may create HyperSearches; the shipped admission policy refuses, in the API server, what
would let the search do more than the tenant could directly, and the operator (running with its
shipped namespaced RBAC, under OwnerReferencesPermissionEnforcement) refuses the same again where
no policy is bound, never adopts or deletes a stranger's object, and survives hostile trainers.
After every refused attack no Pod, Job or Trial exists.
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.cluster import Cluster
from tests.operator.conftest import (
    GROUP,
    MANIFESTS,
    VERSION,
    create_search,
    get_search,
    service_account_kubeconfig,
    tiny_search,
    trials,
    wait_phase,
)
from tests.operator.test_search import install_namespaced_rbac

FINAL = ("Succeeded", "Failed", "Invalid")


def attack(name: str, kind: str) -> dict[str, Any]:
    """A small search carrying one attack."""
    doc = tiny_search(name, trials=2, parallelism=1, maxFailedTrials=0)
    pod = doc["spec"]["trialTemplate"]["spec"]
    if kind == "operator-account":
        pod["serviceAccountName"] = "hypersearch-operator"
    elif kind == "host-path":
        pod["volumes"] = [{"name": "root", "hostPath": {"path": "/"}}]
    elif kind == "privileged":
        pod["containers"][0]["securityContext"] = {"privileged": True}
    elif kind == "deployment":
        doc["spec"]["stage2"] = {"topK": 1, "workload": {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "template": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                         "template": {"metadata": {"labels": {"a": "b"}}, "spec": pod}}}}  # fmt: skip
    elif kind == "metrics-path":
        doc["spec"]["metrics"]["path"] = "@127.0.0.1:1/x"
    elif kind == "huge":
        doc["spec"]["trials"] = 1_000_000
        doc["spec"]["stream"] = {"windows": 10_000}
    else:
        raise AssertionError(kind)
    return doc


def children(api: client.ApiClient, namespace: str) -> dict[str, list[str]]:
    """Every Pod, Job and Trial in the namespace, by kind."""
    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    return {
        "pods": [p.metadata.name for p in core.list_namespaced_pod(namespace).items],
        "jobs": [j.metadata.name for j in batch.list_namespaced_job(namespace).items],
        "trials": [t["metadata"]["name"] for t in trials(api, namespace)],
    }


def grant(rbac: client.RbacAuthorizationV1Api, namespace: str, user: str, rules: list[Any]) -> None:
    rbac.create_namespaced_role(namespace, {"metadata": {"name": user}, "rules": rules})
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": user},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": user},
        "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}],
    })  # fmt: skip


SEARCHES = {"apiGroups": [GROUP], "resources": ["hypersearches"], "verbs": ["create", "get"]}
WORKLOADS = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create"]},
]


@pytest.fixture
def policy(cluster: Cluster, k8s: client.ApiClient, namespace: str, crds: None) -> Iterator[None]:
    """The shipped ValidatingAdmissionPolicy, bound (only) to this test's namespace."""
    admission = client.AdmissionregistrationV1Api(k8s)
    client.CoreV1Api(k8s).patch_namespace(
        namespace, {"metadata": {"labels": {"hypersearch.dev/policy-test": namespace}}}
    )
    policy_doc, binding = yaml.safe_load_all((MANIFESTS / "admission-policy.yaml").read_text())
    name = f"hypersearch-safety-{namespace}"
    policy_doc["metadata"]["name"] = binding["metadata"]["name"] = name
    binding["spec"]["policyName"] = name
    binding["spec"]["matchResources"] = {
        "namespaceSelector": {"matchLabels": {"hypersearch.dev/policy-test": namespace}}
    }
    admission.create_validating_admission_policy(policy_doc)
    admission.create_validating_admission_policy_binding(binding)

    def enforced() -> bool:  # the API server loads new policies asynchronously
        try:
            create_search(k8s, namespace, attack("probe", "host-path"), dry_run=True)
        except client.ApiException as e:
            return e.status == 422
        return False

    cluster.wait(enforced, 60, "the admission policy to be enforced")
    yield
    admission.delete_validating_admission_policy_binding(name)
    admission.delete_validating_admission_policy(name)


@pytest.mark.usefixtures("policy")
def test_the_admission_policy_refuses_each_attack_and_nothing_is_created(
    cluster: Cluster, k8s: client.ApiClient, namespace: str
) -> None:
    rbac = client.RbacAuthorizationV1Api(k8s)
    # A tenant with what a trial needs (create pods and jobs here), and one with HyperSearch
    # rights only.
    grant(rbac, namespace, "alice", [SEARCHES, *WORKLOADS])
    grant(rbac, namespace, "bob", [SEARCHES])
    refused: dict[str, str] = {}
    with cluster.api_client(impersonate="alice") as alice:
        # The tenant's legitimate search passes (dry run: the policy and schema both ran).
        create_search(alice, namespace, tiny_search("fine"), dry_run=True)
        # So does the shipped quickstart, whose trials mount the data claim (a PVC volume).
        quickstart = MANIFESTS / "examples" / "quickstart.yaml"
        create_search(alice, namespace, yaml.safe_load(quickstart.read_text()), dry_run=True)
        expected = {
            "operator-account": "serviceAccountName",
            "host-path": "hostPath",
            "privileged": "privileged",
            "deployment": "apps/v1/Deployment",
            "metrics-path": "spec.metrics.path",
            "huge": "spec.trials",
        }
        for kind, field in expected.items():
            with pytest.raises(client.ApiException) as info:
                create_search(alice, namespace, attack(kind, kind))
            assert info.value.status == 422, (kind, info.value.body)
            assert field in info.value.body, (kind, info.value.body)
            refused[kind] = info.value.status
    with cluster.api_client(impersonate="bob") as bob:
        with pytest.raises(client.ApiException) as info:
            create_search(bob, namespace, tiny_search("fine"))
        assert info.value.status == 403, info.value.body
        assert "may not create pods" in info.value.body
    assert children(k8s, namespace) == {"pods": [], "jobs": [], "trials": []}
    items = client.CustomObjectsApi(k8s).list_namespaced_custom_object(
        GROUP, VERSION, namespace, "hypersearches"
    )["items"]
    assert items == []


@pytest.mark.usefixtures("policy")
def test_the_admission_policy_refuses_history_a_tenant_may_not_read(
    cluster: Cluster, k8s: client.ApiClient, namespace: str
) -> None:
    """spec.stage1.history names HyperSearches the operator reads for the creator: the creator
    must be able to get each of them in the namespace; a results path is refused outright."""
    rbac = client.RbacAuthorizationV1Api(k8s)
    grant(rbac, namespace, "alice", [SEARCHES, *WORKLOADS])
    create_only = {"apiGroups": [GROUP], "resources": ["hypersearches"], "verbs": ["create"]}
    grant(rbac, namespace, "carol", [create_only, *WORKLOADS])

    def with_history(name: str, *entries: dict[str, str]) -> dict[str, Any]:
        doc = tiny_search(name)
        doc["spec"]["stage1"]["history"] = {"policy": "residual", "searches": list(entries)}
        return doc

    named = with_history("later", {"name": "earlier-a"}, {"name": "earlier-b"})
    with cluster.api_client(impersonate="alice") as alice:
        create_search(alice, namespace, named, dry_run=True)  # alice may get them: admitted
        with pytest.raises(client.ApiException) as info:
            create_search(alice, namespace, with_history("path", {"results": "runs/x"}))
        assert info.value.status == 422, info.value.body
        assert "spec.stage1.history.searches[*].results" in info.value.body
    with cluster.api_client(impersonate="carol") as carol:
        with pytest.raises(client.ApiException) as info:
            create_search(carol, namespace, named)
        assert info.value.status == 403, info.value.body
        body = info.value.body
        assert "spec.stage1.history.searches[*].name" in body and "carol" in body, body
        assert "earlier-a, earlier-b" in body, body
        create_search(carol, namespace, tiny_search("plain"), dry_run=True)  # no history: fine
    assert children(k8s, namespace) == {"pods": [], "jobs": [], "trials": []}


@pytest.fixture
def rbac_operator(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any, tmp_path: Path
) -> Any:
    """The operator with only its shipped namespaced RBAC (no admission policy bound here)."""
    install_namespaced_rbac(k8s, namespace)
    kubeconfig = service_account_kubeconfig(
        cluster, k8s, namespace, "hypersearch-operator", tmp_path / "sa.kubeconfig"
    )
    return operator_factory(kubeconfig=kubeconfig)


def test_the_operator_refuses_the_same_attacks_without_a_policy(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, rbac_operator: Any
) -> None:
    expected = {
        "operator-account": "spec.trialTemplate.spec.serviceAccountName",
        "host-path": "spec.trialTemplate.spec.volumes[0].hostPath",
        "privileged": "spec.trialTemplate.spec.containers[0].securityContext.privileged",
        "deployment": "spec.stage2.workload.kind",
    }
    for kind in expected:
        create_search(k8s, namespace, attack(kind, kind))
    for kind, field in expected.items():
        status = wait_phase(cluster, k8s, namespace, kind, FINAL)["status"]
        assert status["phase"] == "Invalid", (kind, status.get("reason"))
        assert field in status["reason"], (kind, status["reason"])
    assert children(k8s, namespace) == {"pods": [], "jobs": [], "trials": []}
    assert rbac_operator.proc.poll() is None


def test_a_strangers_objects_are_never_adopted_deleted_or_resumed(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, rbac_operator: Any
) -> None:
    core = client.CoreV1Api(k8s)
    # A Pod named like the first trial of search "victim", belonging to someone else.
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "victim-000",
                     "labels": {"hypersearch.dev/search": "victim",
                                "hypersearch.dev/trial": "victim-000"}},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "app", "image": "example/app:1",
            "command": [sys.executable, "-c", "import time; time.sleep(3600)"]}]},
    })  # fmt: skip
    # A forged Trial of search "victim" with a huge id, owned by nobody.
    client.CustomObjectsApi(k8s).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "trials", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "Trial",
            "metadata": {"name": "forged", "labels": {"hypersearch.dev/search": "victim"}},
            "spec": {"search": "victim", "id": 10_000_000, "stage": 1, "params": {},
                     "data": {"start": 0, "stop": 12, "rate": 1.0}},
        })  # fmt: skip
    create_search(k8s, namespace, tiny_search("victim", trials=2, parallelism=1, maxFailedTrials=0))
    status = wait_phase(cluster, k8s, namespace, "victim", FINAL)["status"]
    assert status["phase"] == "Failed", status.get("reason")
    assert status["trials"]["total"] <= 2  # the forged record was not resumed
    first = next(t for t in trials(k8s, namespace) if t["metadata"]["name"] == "victim-000")
    assert "does not belong to this search" in first["status"]["reason"]
    time.sleep(2)  # give a wrong delete time to land before looking
    pod = core.read_namespaced_pod("victim-000", namespace)
    assert pod.metadata.deletion_timestamp is None
    assert not pod.metadata.owner_references
    forged = client.CustomObjectsApi(k8s).get_namespaced_custom_object(
        GROUP, VERSION, namespace, "trials", "forged"
    )
    assert "status" not in forged or not forged["status"]


HOSTILE = r"""
import http.server, os
if os.environ["HOSTILE"] == "strata":
    lines = ["hypersearch_trainer_position 1", "hypersearch_trainer_train_examples_total 10",
             'm{window="0"} 0.5']
    lines += [f'm{{window="0",stratum="s{i}"}} 0.5' for i in range(100_000)]
    body = ("\n".join(lines) + "\n").encode()
else:
    body = b"# " + b"x" * (4 * 1024 * 1024 + 16) + b"\n"
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
address = (os.environ["HS_METRICS_HOST"], int(os.environ["HS_METRICS_PORT"]))
http.server.ThreadingHTTPServer(address, Handler).serve_forever()
"""


def hostile(name: str, mode: str) -> dict[str, Any]:
    doc = tiny_search(name, trials=1, parallelism=1, maxFailedTrials=0)
    doc["spec"]["metrics"]["objective"] = {"name": "m"}
    container = doc["spec"]["trialTemplate"]["spec"]["containers"][0]
    container["command"] = [sys.executable, "-c", HOSTILE]
    container["args"] = []
    container["env"] = [{"name": "HOSTILE", "value": mode}]
    return copy.deepcopy(doc)


def test_hostile_trainers_fail_their_trial_not_the_operator(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, rbac_operator: Any
) -> None:
    leases = client.CoordinationV1Api(k8s)

    def lease() -> Any:
        return leases.read_namespaced_lease("hypersearch-operator", namespace)

    def holder() -> str | None:
        try:
            return str(lease().spec.holder_identity or "") or None
        except client.ApiException as e:
            if e.status == 404:  # not created yet
                return None
            raise

    held = cluster.wait(holder, 60, "the operator to lead")
    create_search(k8s, namespace, hostile("strata", "strata"))
    create_search(k8s, namespace, hostile("bigbody", "body"))
    reasons = {}
    for name in ("strata", "bigbody"):
        status = wait_phase(cluster, k8s, namespace, name, FINAL)["status"]
        assert status["phase"] == "Failed", status.get("reason")
        (trial,) = [t for t in trials(k8s, namespace) if t["spec"]["search"] == name]
        reasons[name] = trial["status"]["reason"]
    assert "distinct strata" in reasons["strata"], reasons
    assert "exceeds" in reasons["bigbody"], reasons
    # Still the same leader, still renewing.
    before = lease().spec.renew_time
    cluster.wait(lambda: lease().spec.renew_time != before, 30, "the lease to be renewed")
    assert lease().spec.holder_identity == held
    assert rbac_operator.proc.poll() is None
    assert get_search(k8s, namespace, "strata")["status"]["trials"]["failed"] == 1
