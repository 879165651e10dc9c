"""Unit tests (no cluster, no real clock) of leader election on locally observed times and of
the write fence: a standby judges expiry by how long the Lease record has stayed unchanged on
its own monotonic clock, never by comparing the holder's renewTime with its wall clock."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypersearch.kube.api import Fenced, Kube
from hypersearch.kube.leader import Leader
from kubernetes import client
from kubernetes.client.exceptions import ApiException


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Leases:
    """One Lease with resourceVersion-checked replace, as the API server does it."""

    def __init__(self) -> None:
        self.lease: client.V1Lease | None = None
        self.rv = 0

    def _store(self, body: client.V1Lease) -> None:
        self.rv += 1
        body = copy.deepcopy(body)
        body.metadata.resource_version = str(self.rv)
        self.lease = body

    def read_namespaced_lease(self, name: str, namespace: str, **_: Any) -> client.V1Lease:
        if self.lease is None:
            raise ApiException(status=404)
        return copy.deepcopy(self.lease)

    def create_namespaced_lease(self, namespace: str, body: client.V1Lease, **_: Any) -> None:
        if self.lease is not None:
            raise ApiException(status=409)
        self._store(body)

    def replace_namespaced_lease(
        self, name: str, namespace: str, body: client.V1Lease, **_: Any
    ) -> None:
        assert self.lease is not None
        if body.metadata.resource_version != self.lease.metadata.resource_version:
            raise ApiException(status=409)
        self._store(body)

    def holder(self) -> str | None:
        assert self.lease is not None and self.lease.spec is not None
        return self.lease.spec.holder_identity

    def write_as(self, holder: str, renew: datetime, duration: int = 4) -> None:
        """Another replica's renewal, written with its own (maybe skewed) clock."""
        spec = client.V1LeaseSpec(
            holder_identity=holder,
            lease_duration_seconds=duration,
            acquire_time=renew,
            renew_time=renew,
            lease_transitions=0,
        )
        if self.lease is None:
            self._store(client.V1Lease(metadata=client.V1ObjectMeta(name="l"), spec=spec))
        else:
            lease = copy.deepcopy(self.lease)
            lease.spec = spec
            self._store(lease)


def candidate(leases: Leases, clock: Clock, identity: str = "me") -> Leader:
    leader = Leader(client.ApiClient(), "ns", "l", identity=identity, lease_seconds=4, clock=clock)
    leader.api = leases  # type: ignore[assignment]
    return leader


def now() -> datetime:
    return datetime.now(UTC)


@pytest.mark.parametrize("skew", [-20.0, 20.0])
def test_a_skewed_renew_time_neither_expires_nor_extends_a_live_lease(skew: float) -> None:
    """The holder's clock is 20 s behind (its renewTime looks stale) or ahead (looks in the
    future): while it keeps renewing, the standby waits; once it stops, the standby takes over
    exactly one lease duration (on its own clock) after it last saw the record change."""
    leases, clock = Leases(), Clock()
    standby = candidate(leases, clock)
    renewed = now() + timedelta(seconds=skew)
    leases.write_as("other", renewed)
    for step in range(20):  # 20 s of the holder renewing every second
        assert not standby.try_acquire(), step
        clock.t += 1.0
        renewed += timedelta(seconds=1)
        leases.write_as("other", renewed)
    assert leases.holder() == "other"

    # The holder stops renewing; the record last changed when the standby read it next.
    assert not standby.try_acquire()
    seen = clock.t
    clock.t = seen + 3.9
    assert not standby.try_acquire()
    assert leases.holder() == "other"
    clock.t = seen + 4.0
    assert standby.try_acquire()
    assert leases.holder() == "me"
    assert leases.lease is not None and leases.lease.spec is not None
    assert leases.lease.spec.lease_transitions == 1


def test_a_first_sighting_waits_a_whole_lease_even_for_an_ancient_record() -> None:
    """A standby that has just started knows nothing of how long the record has stood."""
    leases, clock = Leases(), Clock()
    leases.write_as("other", now() - timedelta(hours=1))
    standby = candidate(leases, clock)
    assert not standby.try_acquire()
    clock.t += 3.5
    assert not standby.try_acquire()
    clock.t += 0.5
    assert standby.try_acquire()


def test_a_released_lease_is_taken_at_once() -> None:
    leases, clock = Leases(), Clock()
    first = candidate(leases, clock, "first")
    assert first.try_acquire()
    first.release()
    assert leases.holder() is None
    assert candidate(leases, clock, "second").try_acquire()
    assert leases.holder() == "second"


def test_two_candidates_never_both_win() -> None:
    """Both see the same expired record; the replace carries the read's resourceVersion."""
    leases, clock = Leases(), Clock()
    leases.write_as("dead", now())
    a, b = candidate(leases, clock, "a"), candidate(leases, clock, "b")
    assert not a.try_acquire() and not b.try_acquire()
    clock.t += 5
    stale = leases.read_namespaced_lease("l", "ns")
    assert a.try_acquire()
    real_read = leases.read_namespaced_lease
    leases.read_namespaced_lease = lambda *_, **__: copy.deepcopy(stale)  # type: ignore[method-assign]
    assert not b.try_acquire()  # 409: a wrote first
    leases.read_namespaced_lease = real_read  # type: ignore[method-assign]
    assert leases.holder() == "a"
    assert not b.try_acquire()  # a fresh record for b: a new lease duration to wait


def test_the_leader_fences_itself_before_any_standby_may_take_over() -> None:
    leases, clock = Leases(), Clock()
    leader = candidate(leases, clock, "leader")
    assert leader.fenced()  # not leading yet
    assert leader.try_acquire()
    lost: list[bool] = []
    leader.on_lost = lambda: lost.append(True)
    standby = candidate(leases, clock, "standby")
    assert not standby.try_acquire()  # sees the record at t0
    clock.t += 2.9
    assert not leader.fenced()
    # Renewals fail from now on (the API server is unreachable for the leader).
    leases_ok = leader.api
    leader.api = None  # type: ignore[assignment]
    assert leader.renew()  # within the renew deadline: still leading
    clock.t += 0.2  # 3.1 s > 0.75 * 4 s since the last renewal was sent
    assert not leader.renew()
    assert leader.fenced() and leader.lost.is_set() and lost == [True]
    # ... while the standby may take over only at 4 s after it saw the record.
    assert not standby.try_acquire()
    clock.t += 0.9
    assert standby.try_acquire()
    leader.api = leases_ok
    assert not leader.renew()  # lost stays lost
    assert lost == [True]


def test_another_holder_fences_the_leader_at_once() -> None:
    leases, clock = Leases(), Clock()
    leader = candidate(leases, clock, "leader")
    assert leader.try_acquire()
    leases.write_as("usurper", now())
    assert not leader.renew()
    assert leader.fenced() and leader.lost.is_set()


def test_the_fence_is_timed_even_when_no_renewal_returns() -> None:
    """A renewal stuck in a request cannot keep the fence open: ``fenced`` reads the clock."""
    leases, clock = Leases(), Clock()
    leader = candidate(leases, clock, "leader")
    assert leader.try_acquire()
    clock.t += 3.0
    assert not leader.fenced()
    clock.t += 0.01
    assert leader.fenced() and leader.lost.is_set()


def test_a_fenced_kube_refuses_every_write_without_a_request() -> None:
    kube = Kube(client.ApiClient())
    calls: list[str] = []

    async def record(verb: str, *_: Any, **__: Any) -> Any:
        calls.append(verb)
        return {"metadata": {"name": "x", "uid": "u", "ownerReferences": [{"uid": "o"}]}}

    kube._call = record  # type: ignore[method-assign]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}

    async def writes() -> None:
        await kube.create("ns", pod)
        await kube.delete("ns", "v1", "Pod", "x", "o")
        await kube.patch_status("ns", "trials", "x", {"state": "Stopped"})

    fenced = False
    kube.fence = lambda: fenced
    asyncio.run(writes())  # an open fence lets them through
    assert calls == ["create", "get", "delete", "patch"]

    calls.clear()
    fenced = True
    for write in (
        kube.create("ns", pod),
        kube.delete("ns", "v1", "Pod", "x", "o"),
        kube.patch_status("ns", "trials", "x", {"state": "Stopped"}),
    ):
        with pytest.raises(Fenced, match="no longer holds the leader lease"):
            asyncio.run(write)
    assert calls == []
    # Reads stay allowed (a fenced replica may still look while it shuts down).
    asyncio.run(kube.get("ns", "v1", "Pod", "x"))
    assert calls == ["get"]
