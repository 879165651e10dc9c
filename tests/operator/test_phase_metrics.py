"""Unit tests (no cluster) of the per-search phase gauge and the leader gauge."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypersearch.kube import metrics
from hypersearch.kube.leader import Leader
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from prometheus_client import REGISTRY


def phases(namespace: str, search: str) -> dict[str, float]:
    """The phase series exported for one search, as phase -> value."""
    out = {}
    for family in REGISTRY.collect():
        if family.name != "hypersearch_operator_search_phase":
            continue
        for s in family.samples:
            if s.labels["namespace"] == namespace and s.labels["search"] == search:
                out[s.labels["phase"]] = s.value
    return out


def series(namespace: str, search: str) -> set[str]:
    """Names of the samples labelled with this search, of every operator metric."""
    return {
        s.name
        for family in REGISTRY.collect()
        if family.name.startswith("hypersearch_operator_")
        for s in family.samples
        if s.labels.get("namespace") == namespace and s.labels.get("search") == search
    }


def test_deleting_a_search_drops_all_its_series_and_no_others() -> None:
    for search in ("gone", "kept"):
        metrics.set_search_phase("ns-d", search, "Running")
        metrics.TRIALS.labels("ns-d", search, "running").set(3)
        metrics.STOPS.labels("ns-d", search).inc()
        metrics.FAILURES.labels("ns-d", search).inc()
        metrics.PREDICTED.labels("ns-d", search, f"{search}-000").set(0.5)
        metrics.OBSERVED.labels("ns-d", search, f"{search}-000-full").set(0.4)
        metrics.export_cost(
            "ns-d",
            search,
            {"reduction": 4.0, "examplesReduction": 5.0, "fullSearchExamples": 600.0,
             "totalExamples": 100.0, "stage1CpuSeconds": 10.0, "stage2CpuSeconds": 5.0,
             "stage1GpuSeconds": 0.0, "stage2GpuSeconds": 0.0, "fullSearchCpuSeconds": 60.0,
             "fullSearchGpuSeconds": 0.0, "resourceSeconds": {"cpu": 20.0, "gpu": 0.0}},
        )  # fmt: skip
    kept = series("ns-d", "kept")
    assert len(kept) >= 13, kept

    metrics.forget_search("ns-d", "gone")
    assert series("ns-d", "gone") == set()
    assert series("ns-d", "kept") == kept
    metrics.forget_search("ns-d", "kept")


def test_cost_gauges_put_compute_first_and_drop_what_is_not_known() -> None:
    cost = {"reduction": None, "examplesReduction": 3.0, "stage1CpuSeconds": 12.5,
            "stage2CpuSeconds": 0.0, "stage1GpuSeconds": 0.0, "stage2GpuSeconds": 0.0,
            "fullSearchCpuSeconds": None, "resourceSeconds": {"cpu": 30.0, "gpu": 0.0}}  # fmt: skip

    def value(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"namespace": "ns-c", "search": "s", **labels})

    metrics.export_cost("ns-c", "s", cost)
    assert value("hypersearch_operator_cost_reduction") is None  # no full-data run yet
    assert value("hypersearch_operator_examples_reduction") == 3.0
    assert value("hypersearch_operator_compute_seconds", stage="1", resource="cpu") == 12.5
    assert value("hypersearch_operator_resource_seconds", resource="cpu") == 30.0
    assert value("hypersearch_operator_full_search_compute_seconds", resource="cpu") is None
    metrics.export_cost("ns-c", "s", {**cost, "reduction": 2.5, "fullSearchCpuSeconds": 40.0})
    assert value("hypersearch_operator_cost_reduction") == 2.5
    assert value("hypersearch_operator_full_search_compute_seconds", resource="cpu") == 40.0
    metrics.forget_search("ns-c", "s")
    assert series("ns-c", "s") == set()


def test_search_phase_set_change_and_removal() -> None:
    metrics.set_search_phase("ns-a", "s1", "Running")
    metrics.set_search_phase("ns-a", "s2", "Running")
    assert phases("ns-a", "s1") == {"Running": 1.0}

    metrics.set_search_phase("ns-a", "s1", "Running")  # idempotent
    metrics.set_search_phase("ns-a", "s1", "Failed")
    assert phases("ns-a", "s1") == {"Failed": 1.0}  # one series per search
    assert phases("ns-a", "s2") == {"Running": 1.0}  # others untouched

    metrics.forget_search("ns-a", "s1")
    assert phases("ns-a", "s1") == {}
    metrics.forget_search("ns-a", "s1")  # a second deletion is harmless
    assert phases("ns-a", "s2") == {"Running": 1.0}
    metrics.forget_search("ns-a", "s2")
    assert phases("ns-a", "s2") == {}


class FakeLeases:
    """Just enough of CoordinationV1Api: one Lease, resourceVersion-free."""

    def __init__(self) -> None:
        self.lease: client.V1Lease | None = None

    def read_namespaced_lease(self, name: str, namespace: str, **_: Any) -> client.V1Lease:
        if self.lease is None:
            raise ApiException(status=404)
        return self.lease

    def create_namespaced_lease(self, namespace: str, body: client.V1Lease, **_: Any) -> None:
        self.lease = body

    def replace_namespaced_lease(
        self, name: str, namespace: str, body: client.V1Lease, **_: Any
    ) -> None:
        self.lease = body


def leader_value(lease: str) -> float | None:
    return REGISTRY.get_sample_value("hypersearch_operator_leader", {"lease": lease})


def test_leader_gauge_follows_the_lease() -> None:
    leases = FakeLeases()
    a = Leader(client.ApiClient(), "ns", "lease-x", identity="a", lease_seconds=15)
    a.api = leases  # type: ignore[assignment]
    assert leader_value("lease-x") == 0.0  # a waiting replica reports 0
    assert a.try_acquire()
    assert leader_value("lease-x") == 1.0
    a.release()
    assert leader_value("lease-x") == 0.0

    # Another holder with a fresh lease: we wait (0), and losing it for good keeps 0.
    assert a.try_acquire()
    assert leases.lease is not None and leases.lease.spec is not None
    leases.lease.spec.holder_identity = "b"
    leases.lease.spec.renew_time = datetime.now(UTC)
    assert not a.try_acquire()
    a._last_renew = 0.0  # long ago: the renewal gives up
    assert not a.renew()
    assert a.lost.is_set()
    assert leader_value("lease-x") == 0.0
