"""Stage 2 as a workload of another kind than Job (as a PyTorchJob would be), end to end.

A small CRD stands in for a training operator's kind, and a thread in the test plays its
controller: it makes each object's pod from the pod template inside, and reports the pod's
ending as a condition. Our operator must create the object with its labels and env merged into
that pod template, scrape the pod it never created, and read the success condition."""

from __future__ import annotations

import threading
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.cluster import Cluster
from tests.operator.conftest import create_search, events, tiny_search, trials, wait_phase

GROUP, KIND, PLURAL = "harness.hypersearch.test", "TrainRun", "trainruns"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": PLURAL, "singular": "trainrun", "kind": KIND},
        "versions": [{
            "name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            }}},
        }],
    },
}  # fmt: skip


def install_crd(cluster: Cluster, api: client.ApiClient) -> None:
    ext = client.ApiextensionsV1Api(api)
    try:
        ext.create_custom_resource_definition(CRD)
    except ApiException as e:
        if e.status != 409:
            raise

    def established() -> bool:
        crd = ext.read_custom_resource_definition(f"{PLURAL}.{GROUP}")
        return any(
            c.type == "Established" and c.status == "True" for c in crd.status.conditions or []
        )

    cluster.wait(established, 30, "the TrainRun CRD")


class FakeTrainingOperator(threading.Thread):
    """Runs each TrainRun's ``spec.replicaSpecs.main.template`` as one pod; sets Complete or
    Failed on the TrainRun when the pod ends."""

    def __init__(self, api: client.ApiClient, namespace: str, report: bool = True) -> None:
        super().__init__(daemon=True)
        self.report = report  # False: a controller that never sets a condition
        self.core, self.custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        self.namespace = namespace
        self.halt = threading.Event()
        self.pods: dict[str, Any] = {}

    def run(self) -> None:
        while not self.halt.wait(0.5):
            try:
                self.sync()
            except ApiException:
                continue  # e.g. a conflict or a TrainRun deleted meanwhile; next pass

    def sync(self) -> None:
        runs = self.custom.list_namespaced_custom_object(GROUP, "v1", self.namespace, PLURAL)
        for run in runs["items"]:
            meta, name = run["metadata"], run["metadata"]["name"]
            if (run.get("status") or {}).get("conditions"):
                continue
            pod_name = f"{name}-main-0"
            if name not in self.pods:
                template = run["spec"]["replicaSpecs"]["main"]["template"]
                pod = {
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {
                        "name": pod_name, "labels": template["metadata"]["labels"],
                        "ownerReferences": [{"apiVersion": f"{GROUP}/v1", "kind": KIND,
                                             "name": name, "uid": meta["uid"]}],
                    },
                    "spec": {**template["spec"], "restartPolicy": "Never"},
                }  # fmt: skip
                self.core.create_namespaced_pod(self.namespace, pod)
                self.pods[name] = pod
                continue
            phase = self.core.read_namespaced_pod(pod_name, self.namespace).status.phase
            if phase in ("Succeeded", "Failed") and self.report:
                kind = "Complete" if phase == "Succeeded" else "Failed"
                status = {"conditions": [{"type": kind, "status": "True", "reason": f"Pod{phase}"}]}
                self.custom.patch_namespaced_custom_object_status(
                    GROUP, "v1", self.namespace, PLURAL, name, {"status": status}
                )


def custom_stage2(doc: dict[str, Any]) -> None:
    trainer = doc["spec"]["trialTemplate"]["spec"]["containers"][0]
    doc["spec"]["stage2"] = {
        "topK": 1,
        "workload": {
            "apiVersion": f"{GROUP}/v1",
            "kind": KIND,
            "template": {"replicaSpecs": {"main": {"replicas": 1, "template": {
                "metadata": {"labels": {"team": "ads"}},
                "spec": {"containers": [trainer]},
            }}}},
        },
    }  # fmt: skip


def test_stage2_with_a_custom_workload_kind(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    install_crd(cluster, k8s)
    fake = FakeTrainingOperator(k8s, namespace)
    fake.start()
    try:
        doc = tiny_search("custom", trials=3)
        custom_stage2(doc)
        # The administrator allows the kind (as the chart's workloadKinds value does).
        operator_factory(f"--workload-kind={GROUP}/v1/{KIND}")
        create_search(k8s, namespace, doc)
        search = wait_phase(cluster, k8s, namespace, "custom", ("Succeeded", "Failed"))
    finally:
        fake.halt.set()
        fake.join(10)
    status = search["status"]
    assert status["phase"] == "Succeeded", status.get("reason")
    [winner] = status["winners"]
    assert winner["state"] == "Completed" and winner["final"] is not None, winner
    run = fake.pods[winner["trial"]]  # the pod the fake controller made from our template
    assert run["metadata"]["labels"]["hypersearch.dev/trial"] == winner["trial"]
    assert run["metadata"]["labels"]["team"] == "ads"
    env = {e["name"]: e.get("value") for e in run["spec"]["containers"][0]["env"]}
    assert env["HS_STAGE"] == "2" and float(env["HS_PARAM_lr"]) == winner["params"]["lr"]
    trainruns = client.CustomObjectsApi(k8s).list_namespaced_custom_object(
        GROUP, "v1", namespace, PLURAL
    )["items"]
    assert [r["metadata"]["name"] for r in trainruns] == [winner["trial"]]


def test_a_workload_kind_that_never_sets_its_condition_fails_at_the_deadline(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    install_crd(cluster, k8s)
    fake = FakeTrainingOperator(k8s, namespace, report=False)
    fake.start()
    try:
        doc = tiny_search("silent", trials=2)
        custom_stage2(doc)
        doc["spec"]["deadlines"] = {"workloadConditionSeconds": 5}
        operator_factory(f"--workload-kind={GROUP}/v1/{KIND}")
        create_search(k8s, namespace, doc)
        search = wait_phase(cluster, k8s, namespace, "silent", ("Succeeded", "Failed"))
    finally:
        fake.halt.set()
        fake.join(10)
    assert search["status"]["phase"] == "Failed", search["status"]
    [full] = [t for t in trials(k8s, namespace) if t["spec"]["stage"] == 2]
    reason = full["status"]["reason"]
    assert reason.startswith("WorkloadDeadlineExceeded: ") and "set neither" in reason, reason
    assert full["status"]["conditions"][0]["reason"] == "WorkloadDeadlineExceeded"
    conditions = {c["type"]: c for c in search["status"]["conditions"]}
    assert conditions["DeadlineExceeded"]["reason"] == "WorkloadDeadlineExceeded"
    failed = [m for _, r, m in events(k8s, namespace, "silent") if r == "TrialFailed"]
    assert len(failed) == 1 and "WorkloadDeadlineExceeded" in failed[0], failed
    # The workload was deleted (its pod goes with it): nothing is left running.
    custom = client.CustomObjectsApi(k8s)

    def gone() -> bool:
        runs = custom.list_namespaced_custom_object(GROUP, "v1", namespace, PLURAL)["items"]
        return not [r for r in runs if not r["metadata"].get("deletionTimestamp")]

    cluster.wait(gone, 60, "the silent workload to be deleted")
