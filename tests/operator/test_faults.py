"""Faults a shared cluster produces: pods that never start, and pods a crashed operator left
behind. Each ends in the right state with one clear Event and no orphan."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from kubernetes import client

from tests.cluster import Cluster
from tests.operator.conftest import (
    create_search,
    events,
    get_search,
    service_account_kubeconfig,
    tiny_search,
    trials,
    wait_phase,
    wait_until,
)
from tests.operator.test_search import install_namespaced_rbac


def live_pods(api: client.ApiClient, namespace: str) -> list[str]:
    return [
        p.metadata.name
        for p in client.CoreV1Api(api).list_namespaced_pod(namespace).items
        if p.metadata.deletion_timestamp is None and p.status.phase in ("Pending", "Running")
    ]


def test_an_unschedulable_pod_fails_its_trial_with_the_schedulers_reason(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    operator_factory()  # its default Pending deadline (600 s) is the spec's to shorten
    doc = tiny_search("huge", trials=2, parallelism=1, maxFailedTrials=0)
    doc["spec"]["deadlines"] = {"pendingSeconds": 10}
    trainer = doc["spec"]["trialTemplate"]["spec"]["containers"][0]
    trainer["resources"] = {"requests": {"cpu": "1000"}}  # no node has 1000 CPUs
    create_search(k8s, namespace, doc)
    status = wait_phase(cluster, k8s, namespace, "huge", ("Succeeded", "Failed"), timeout=120)
    assert status["status"]["phase"] == "Failed"
    (first,) = [t for t in trials(k8s, namespace) if t["metadata"]["name"] == "huge-000"]
    reason = first["status"]["reason"]
    assert reason.startswith("PendingDeadlineExceeded: ") and "Unschedulable" in reason, reason
    assert first["status"]["conditions"][0]["reason"] == "PendingDeadlineExceeded"
    conditions = {c["type"]: c for c in status["status"]["conditions"]}
    assert conditions["DeadlineExceeded"]["reason"] == "PendingDeadlineExceeded"
    failed = [m for _, r, m in events(k8s, namespace, "huge") if r == "TrialFailed"]
    assert len(failed) == 1 and "Unschedulable" in failed[0], failed
    wait_until(lambda: live_pods(k8s, namespace) == [], 60, "the pending pod to be deleted")


def test_an_image_that_does_not_exist_fails_its_trial_naming_the_image(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    operator_factory()
    doc = tiny_search("noimage", trials=2, parallelism=1, maxFailedTrials=0)
    doc["spec"]["deadlines"] = {"pendingSeconds": 10}
    image = "registry.invalid/hypersearch/trainer:missing"  # never resolves (RFC 2606)
    doc["spec"]["trialTemplate"]["spec"]["containers"][0]["image"] = image
    create_search(k8s, namespace, doc)
    status = wait_phase(cluster, k8s, namespace, "noimage", ("Succeeded", "Failed"), timeout=120)
    assert status["status"]["phase"] == "Failed"
    (first,) = [t for t in trials(k8s, namespace) if t["metadata"]["name"] == "noimage-000"]
    reason = first["status"]["reason"]
    assert reason.startswith("PendingDeadlineExceeded: ") and "ImagePullBackOff" in reason, reason
    assert image in reason, reason
    failed = [m for _, r, m in events(k8s, namespace, "noimage") if r == "TrialFailed"]
    assert len(failed) == 1 and image in failed[0], failed
    wait_until(lambda: live_pods(k8s, namespace) == [], 60, "the pending pod to be deleted")


def test_a_pod_left_running_for_a_stopped_trial_is_deleted_after_a_restart(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    first = operator_factory()
    doc = tiny_search("orphan", trials=6, parallelism=2)
    env = doc["spec"]["trialTemplate"]["spec"]["containers"][0]["env"]
    env[0]["value"] = "synth:agrawal?windows=12&window_rows=6000"  # slow enough to catch
    create_search(k8s, namespace, doc)

    def stopped() -> dict[str, Any] | None:
        done = [t for t in trials(k8s, namespace) if (t.get("status") or {}).get("state")
                in ("Stopped", "Failed")]  # fmt: skip
        return done[0] if done else None

    trial = wait_until(stopped, 150, "a trial to be stopped")
    first.kill()
    # As if the operator had crashed between recording the stop and deleting the pod.
    search = get_search(k8s, namespace, "orphan")
    container = doc["spec"]["trialTemplate"]["spec"]["containers"][0]
    pod = {
        "metadata": {
            "name": trial["metadata"]["name"],
            "labels": trial["metadata"]["labels"],
            "ownerReferences": [{
                "apiVersion": search["apiVersion"], "kind": "HyperSearch", "name": "orphan",
                "uid": search["metadata"]["uid"], "controller": True}],
        },
        # A trainer that would run on for minutes (it serves nothing: the trial is over).
        "spec": {"restartPolicy": "Never", "containers": [{
            **container, "command": [sys.executable, "-c", "import time; time.sleep(600)"],
            "args": []}]},
    }  # fmt: skip
    core = client.CoreV1Api(k8s)
    name = trial["metadata"]["name"]
    listed = lambda: [p.metadata.name for p in core.list_namespaced_pod(namespace).items]  # noqa: E731
    wait_until(lambda: name not in listed(), 60, "the old pod to be gone")
    core.create_namespaced_pod(namespace, pod)
    operator_factory()
    wait_until(
        lambda: trial["metadata"]["name"] not in live_pods(k8s, namespace), 90,
        "the leftover pod of a stopped trial to be deleted",
    )  # fmt: skip
    cleanup = [m for _, r, m in events(k8s, namespace, "orphan") if r == "Cleanup"]
    assert len(cleanup) == 1 and trial["metadata"]["name"] in cleanup[0], cleanup


def test_pods_still_running_when_a_search_ended_are_deleted_after_a_restart(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    """The operator stopped between writing the final phase and deleting the trials it still
    ran: the next one deletes each live pod of the finished search (one Cleanup Event each)
    and waits for them to go; nothing is left running."""
    first = operator_factory()
    doc = tiny_search("ended", trials=4, parallelism=2)
    container = doc["spec"]["trialTemplate"]["spec"]["containers"][0]
    # Trainers that would run for ten minutes (never served: the search will be over).
    container["command"] = [sys.executable, "-c", "import time; time.sleep(600)"]
    container["args"] = []
    doc["spec"]["deadlines"] = {"startupSeconds": 600}
    create_search(k8s, namespace, doc)
    running = lambda: [  # noqa: E731
        p.metadata.name
        for p in client.CoreV1Api(k8s).list_namespaced_pod(namespace).items
        if p.status.phase == "Running" and p.metadata.deletion_timestamp is None
    ]
    wait_until(lambda: len(running()) == 2, 120, "two trial pods running")
    first.kill()
    left = sorted(running())
    assert len(left) == 2, left
    client.CustomObjectsApi(k8s).patch_namespaced_custom_object_status(
        "hypersearch.dev", "v1alpha1", namespace, "hypersearches", "ended",
        {"status": {"phase": "Failed", "reason": "as if the operator crashed right here"}},
    )  # fmt: skip
    operator_factory()
    core = client.CoreV1Api(k8s)
    listed = lambda: [p.metadata.name for p in core.list_namespaced_pod(namespace).items]  # noqa: E731
    wait_until(lambda: listed() == [], 90, "the finished search's pods to be deleted")
    cleanup = sorted(m for _, r, m in events(k8s, namespace, "ended") if r == "Cleanup")
    assert len(cleanup) == 2, cleanup
    assert [m.split(":")[0] for m in cleanup] == left, cleanup
    assert all(m.endswith("(search Failed)") for m in cleanup), cleanup
    assert get_search(k8s, namespace, "ended")["status"]["phase"] == "Failed"


def test_a_template_the_api_server_rejects_fails_the_trial_once(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    """A 422 (here: a container name that is not a DNS label) is not retried: the trial fails
    with the API server's words, one Event, and the operator does not crash-loop."""
    op = operator_factory()
    doc = tiny_search("rejected", trials=2, parallelism=1, maxFailedTrials=0)
    doc["spec"]["trialTemplate"]["spec"]["containers"][0]["name"] = "Not_A_Label"
    create_search(k8s, namespace, doc)
    status = wait_phase(cluster, k8s, namespace, "rejected", ("Succeeded", "Failed"), timeout=90)
    assert status["status"]["phase"] == "Failed"
    (first,) = [t for t in trials(k8s, namespace) if t["metadata"]["name"] == "rejected-000"]
    assert "the API server refused the Pod rejected-000: 422" in first["status"]["reason"]
    failed = [m for _, r, m in events(k8s, namespace, "rejected") if r == "TrialFailed"]
    assert len(failed) == 1, failed
    assert live_pods(k8s, namespace) == []
    log = op.log()
    assert "will try again" not in log and "Resumed" not in log, log[-3000:]


def test_a_pod_on_a_lost_node_is_failed_then_force_deleted(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    """A node that stopped answering: its pod never starts, and once deleted it stays
    Terminating for ever (no node agent confirms). The trial fails at the Pending deadline, the
    pod is force-deleted after the Terminating one, with one Event each, and nothing is left."""
    core = client.CoreV1Api(k8s)
    node = f"lost-{namespace}"[:63]
    core.create_node({
        "metadata": {"name": node},
        "spec": {"unschedulable": True,  # the scheduler never places other tests' pods here
                 "taints": [{"key": "lost", "effect": "NoSchedule"}]},
    })  # fmt: skip
    try:
        operator_factory()
        doc = tiny_search("lost", trials=2, parallelism=1, maxFailedTrials=0)
        doc["spec"]["deadlines"] = {"pendingSeconds": 5, "terminatingSeconds": 5}
        pod_spec = doc["spec"]["trialTemplate"]["spec"]
        pod_spec["nodeName"] = node  # bound there directly, as if scheduled before the loss
        pod_spec["terminationGracePeriodSeconds"] = 1
        create_search(k8s, namespace, doc)
        status = wait_phase(cluster, k8s, namespace, "lost", ("Succeeded", "Failed"), timeout=120)
        assert status["status"]["phase"] == "Failed"
        (first,) = [t for t in trials(k8s, namespace) if t["metadata"]["name"] == "lost-000"]
        assert first["status"]["reason"].startswith("PendingDeadlineExceeded: "), first["status"]
        names = lambda: [p.metadata.name for p in core.list_namespaced_pod(namespace).items]  # noqa: E731
        wait_until(lambda: names() == [], 90, "the terminating pod to be force-deleted")
        said = events(k8s, namespace, "lost")
        assert len([m for _, r, m in said if r == "TrialFailed"]) == 1, said
        forced = [m for _, r, m in said if r == "ForceDeleted"]
        assert len(forced) == 1 and forced[0].startswith("lost-000: still terminating"), said
    finally:
        core.delete_node(node)


def test_a_request_the_cluster_refuses_fails_the_search_once_without_retries(
    cluster: Cluster,
    k8s: client.ApiClient,
    namespace: str,
    operator_factory: Any,
    tmp_path: Path,
) -> None:
    """An administrator's trimmed Role without ``patch`` on ``trials/status``: the first Trial
    write is refused (403). The search fails naming the refusal, with one Event, instead of
    the daemon raising and being restarted by Kopf every minute (a "Resumed" each time)."""
    install_namespaced_rbac(k8s, namespace)
    rbac = client.RbacAuthorizationV1Api(k8s)
    role = rbac.read_namespaced_role("hypersearch-operator", namespace)
    for rule in role.rules:
        rule.resources = [r for r in rule.resources or [] if r != "trials/status"]
    rbac.replace_namespaced_role("hypersearch-operator", namespace, role)
    kubeconfig = service_account_kubeconfig(
        cluster, k8s, namespace, "hypersearch-operator", tmp_path / "sa.kubeconfig"
    )
    op = operator_factory(kubeconfig=kubeconfig)
    create_search(k8s, namespace, tiny_search("refused", trials=2, parallelism=2))
    status = wait_phase(cluster, k8s, namespace, "refused", ("Succeeded", "Failed"), timeout=90)
    reason = status["status"]["reason"]
    assert status["status"]["phase"] == "Failed", status["status"]
    assert "403" in reason and "trials/status" in reason, reason
    wait_until(lambda: live_pods(k8s, namespace) == [], 60, "no trial pod left running")
    said = events(k8s, namespace, "refused")
    assert len([m for _, r, m in said if r == "Failed"]) == 1, said
    assert [r for _, r, _ in said if r in ("Started", "Resumed")] == ["Started"], said
    assert "failed with an exception" not in op.log(), op.log()[-3000:]
