"""Restart safety and leader election: two replicas, only one acts; the leader is killed
mid-search; the other takes over, resumes from the cluster and finishes without duplicates."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from hypersearch.kube import trail
from kubernetes import client

from tests.cluster import Cluster
from tests.operator.conftest import (
    create_search,
    events,
    pod_runs,
    tiny_search,
    trials,
    wait_phase,
    wait_until,
)


def test_leader_killed_mid_search_standby_finishes_without_duplicates(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    first = operator_factory()
    wait_until(lambda: "leading as" in first.log(), 60, "the first replica to lead")
    second = operator_factory()
    wait_until(lambda: "another replica leads" in second.log(), 60, "the standby to wait")

    doc = tiny_search("restart", trials=6)
    env = doc["spec"]["trialTemplate"]["spec"]["containers"][0]["env"]
    env[0]["value"] = "synth:agrawal?windows=12&window_rows=6000"  # trials run a few seconds
    create_search(k8s, namespace, doc)

    def mid_search() -> bool:
        ts = trials(k8s, namespace)
        return len(ts) >= 4 and any(t.get("status", {}).get("state") == "Stopped" for t in ts)

    wait_until(mid_search, 120, "the search to be under way")
    first.kill()
    assert "leading as" not in second.log()  # the standby never acted while the leader lived

    search = wait_phase(cluster, k8s, namespace, "restart", ("Succeeded", "Failed"), timeout=150)
    assert search["status"]["phase"] == "Succeeded", search["status"].get("reason")
    assert "leading as" in second.log()

    # One Trial per run, one pod per stage-1 trial, one Job per winner: nothing duplicated.
    names = sorted(t["metadata"]["name"] for t in trials(k8s, namespace))
    assert names == sorted([f"restart-{i:03d}" for i in range(6)] + [search["status"]["winner"]])
    runs = pod_runs(cluster, namespace)
    assert all(runs.get(f"restart-{i:03d}") == 1 for i in range(6)), runs
    jobs = client.BatchV1Api(k8s).list_namespaced_job(namespace).items
    assert [j.metadata.name for j in jobs] == [search["status"]["winner"]]
    reasons = [r for _, r, _ in events(k8s, namespace, "restart")]
    assert reasons.count("Started") == 1 and "Resumed" in reasons
    assert reasons.count("TrialStarted") == 6, reasons


def test_events_a_crashed_leader_never_posted_are_posted_by_its_successor(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    """Kopf posts events from memory, so a SIGKILL can lose the last ones. Losing them is
    made certain here by deleting them while no replica runs; the next leader posts each
    missing one once, marked as posted after the takeover."""
    first = operator_factory()
    doc = tiny_search("trail", trials=6)
    env = doc["spec"]["trialTemplate"]["spec"]["containers"][0]["env"]
    env[0]["value"] = "synth:agrawal?windows=12&window_rows=6000"
    create_search(k8s, namespace, doc)

    def loser_with_both_events() -> str | None:
        posted = {(r, m.split(":")[0]) for _, r, m in events(k8s, namespace, "trail")}
        stopped = [n for r, n in posted if r == "TrialStopped"]
        return next((n for n in stopped if ("TrialStarted", n) in posted), None)

    loser = wait_until(loser_with_both_events, 120, "a trial stopped with its events posted")
    first.kill()
    core = client.CoreV1Api(k8s)
    lost = [
        e
        for e in core.list_namespaced_event(namespace).items
        if e.involved_object.name == "trail"
        and (e.message or "").startswith(f"{loser}:")
        and e.reason in ("TrialStarted", "TrialStopped")
    ]
    assert sorted(e.reason for e in lost) == ["TrialStarted", "TrialStopped"]
    for e in lost:
        core.delete_namespaced_event(e.metadata.name, namespace)

    operator_factory()
    search = wait_phase(cluster, k8s, namespace, "trail", ("Succeeded", "Failed"), timeout=150)
    assert search["status"]["phase"] == "Succeeded", search["status"].get("reason")
    trail_events = [(r, m.split(":")[0], m) for _, r, m in events(k8s, namespace, "trail")]
    states = {t["metadata"]["name"]: t["status"]["state"] for t in trials(k8s, namespace)}
    for name, state in states.items():
        if name.endswith("-full"):
            continue
        assert [r for r, n, _ in trail_events if n == name and r == "TrialStarted"] == [
            "TrialStarted"
        ], trail_events
        want = ["TrialStopped"] if state == "Stopped" else []
        assert [r for r, n, _ in trail_events if n == name and r == "TrialStopped"] == want
    reposted = {(r, n) for r, n, m in trail_events if m.endswith(trail.TAKEOVER_NOTE)}
    assert {("TrialStarted", loser), ("TrialStopped", loser)} <= reposted, trail_events


def test_a_standby_whose_clock_is_ahead_does_not_take_over_from_a_live_leader(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    """A leader whose clock is 20 s behind the standby's (equivalently: a standby 20 s ahead)
    writes renewTimes that look 20 s old to the standby. While it keeps renewing, the standby
    must wait: expiry is judged on the standby's own clock, by how long the Lease record stays
    unchanged. Once the leader stops renewing, the standby takes over within a few leases."""
    name, fake = "hypersearch-operator", "skewed-leader"
    stop = threading.Event()
    renewals = []

    def renew_behind(leases: client.CoordinationV1Api) -> None:
        while not stop.is_set():
            stamp = datetime.now(UTC) - timedelta(seconds=20)
            spec = client.V1LeaseSpec(
                holder_identity=fake,
                lease_duration_seconds=4,
                acquire_time=stamp,
                renew_time=stamp,
                lease_transitions=0,
            )
            try:
                lease = leases.read_namespaced_lease(name, namespace)
            except client.ApiException as e:
                if e.status != 404:
                    raise
                body = client.V1Lease(metadata=client.V1ObjectMeta(name=name), spec=spec)
                leases.create_namespaced_lease(namespace, body)
            else:
                if lease.spec.holder_identity != fake:
                    return  # taken over: a real leader would now find itself fenced
                lease.spec = spec
                leases.replace_namespaced_lease(name, namespace, lease)
            renewals.append(stamp)
            stop.wait(1.0)

    with cluster.api_client() as own:
        leases = client.CoordinationV1Api(own)
        renewer = threading.Thread(target=renew_behind, args=(leases,), daemon=True)
        renewer.start()
        try:
            wait_until(lambda: renewals, 30, "the skewed leader to hold the lease")
            standby = operator_factory()
            wait_until(lambda: "another replica leads" in standby.log(), 60, "the standby to wait")
            lease_api = client.CoordinationV1Api(k8s)

            def holder() -> str | None:
                spec = lease_api.read_namespaced_lease(name, namespace).spec
                return spec.holder_identity if spec else None

            deadline = time.monotonic() + 16  # four lease durations and then some
            while time.monotonic() < deadline:
                assert holder() == fake, standby.log()
                assert standby.proc is not None and standby.proc.poll() is None
                time.sleep(0.5)
            assert "leading as" not in standby.log()
            assert renewer.is_alive()
        finally:
            stop.set()
            renewer.join(10)
    # The leader is gone: its record stops changing and the standby takes over.
    wait_until(lambda: "leading as" in standby.log(), 20, "the standby to take over")
    assert holder() != fake


def test_a_leader_whose_lease_is_taken_stops_writing_and_exits(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    """Another holder in the Lease fences the leader at its next renewal (from its own
    thread): it logs the loss and exits with EXIT_LOST_LEASE without releasing the lease."""
    from hypersearch.kube.cli import EXIT_LOST_LEASE

    leader = operator_factory()
    wait_until(lambda: "leading as" in leader.log(), 60, "the replica to lead")
    leases = client.CoordinationV1Api(k8s)
    lease = leases.read_namespaced_lease("hypersearch-operator", namespace)
    lease.spec.holder_identity = "usurper"
    lease.spec.renew_time = datetime.now(UTC)
    leases.replace_namespaced_lease("hypersearch-operator", namespace, lease)
    assert leader.proc is not None
    wait_until(lambda: leader.proc.poll() is not None, 30, "the fenced leader to exit")
    assert leader.proc.returncode == EXIT_LOST_LEASE, leader.log()
    assert "lost the lease" in leader.log() and "now held by usurper" in leader.log()
    spec = leases.read_namespaced_lease("hypersearch-operator", namespace).spec
    assert spec.holder_identity == "usurper"


def test_a_crd_upgrade_that_adds_defaults_is_no_spec_edit(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    """A search accepted under an older CRD stored its spec without fields a newer CRD
    defaults (stage1.promotion, stage1.transfer); the API server fills them into the spec it
    serves, never into status.acceptedSpec. The restarted operator must resume the search as
    it was, not report the upgrade as a refused edit."""
    first = operator_factory()
    doc = tiny_search("upgraded", trials=6)
    env = doc["spec"]["trialTemplate"]["spec"]["containers"][0]["env"]
    env[0]["value"] = "synth:agrawal?windows=12&window_rows=6000"
    create_search(k8s, namespace, doc)
    api = client.CustomObjectsApi(k8s)

    def accepted() -> dict[str, Any] | None:
        got = api.get_namespaced_custom_object(
            "hypersearch.dev", "v1alpha1", namespace, "hypersearches", "upgraded"
        )
        return (got.get("status") or {}).get("acceptedSpec")

    # Under way: accepted, and a Trial in the cluster to resume from.
    wait_until(lambda: accepted() and trials(k8s, namespace), 120, "the search to be under way")
    old = accepted()
    assert old is not None and {"promotion", "transfer"} <= set(old["stage1"])
    first.kill()
    # As the older CRD's operator stored it: without the fields the newer CRD defaults.
    old["stage1"] = {k: v for k, v in old["stage1"].items() if k not in ("promotion", "transfer")}
    api.patch_namespaced_custom_object_status(
        "hypersearch.dev", "v1alpha1", namespace, "hypersearches", "upgraded",
        {"status": {"acceptedSpec": None}},
    )  # fmt: skip
    api.patch_namespaced_custom_object_status(
        "hypersearch.dev", "v1alpha1", namespace, "hypersearches", "upgraded",
        {"status": {"acceptedSpec": old}},
    )  # fmt: skip
    assert "promotion" not in accepted()["stage1"]  # type: ignore[index]

    operator_factory()
    search = wait_phase(cluster, k8s, namespace, "upgraded", ("Succeeded", "Failed"), timeout=150)
    assert search["status"]["phase"] == "Succeeded", search["status"].get("reason")
    reasons = [r for _, r, _ in events(k8s, namespace, "upgraded")]
    assert "Resumed" in reasons and "SpecChangeRejected" not in reasons, reasons
    conditions = {c["type"] for c in search["status"].get("conditions", [])}
    assert "SpecChangeRejected" not in conditions, search["status"]["conditions"]
