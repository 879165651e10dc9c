"""Leader election on a coordination.k8s.io Lease, so two replicas never act at once.

As client-go's ``leaderelection`` does, expiry is judged on **locally observed times**, never
by comparing the holder's ``renewTime`` with the local wall clock (a standby whose clock runs
ahead would take over from a live leader). A candidate remembers the Lease record it last saw
(holder, renewTime, acquireTime, transitions, duration) and the moment it saw it on its own
monotonic clock; it takes over only when that record has stayed unchanged for a whole lease
duration, measured on that clock. Every write is a replace carrying the Lease's
resourceVersion, so two candidates cannot both win.

The leader renews from its own thread (:meth:`Leader.keep`), so a busy event loop (the
engine, TPE draws, parsing) cannot starve it. It is *fenced* (:meth:`Leader.fenced`) once a
renewal has not succeeded within the renew deadline (three quarters of the lease, counted from
the start of the last successful renewal, before any standby can take over) or another holder
is seen; the operator's own API writes check the fence (``Kube.fence``) and the process exits.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from hypersearch.kube import metrics

log = logging.getLogger("hypersearch.leader")

RENEW_DEADLINE = 0.75  # of the lease duration: a leader unconfirmed this long stops writing


def default_identity() -> str:
    return (
        f"{os.environ.get('POD_NAME') or socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    )


def _record(spec: client.V1LeaseSpec) -> tuple[Any, ...]:
    """What a candidate compares between two reads (client-go's LeaderElectionRecord)."""
    return (
        spec.holder_identity,
        spec.renew_time,
        spec.acquire_time,
        spec.lease_transitions,
        spec.lease_duration_seconds,
    )


class Leader:
    """Acquire, renew and release one Lease.

    ``clock`` is the local monotonic clock (injectable for tests); the only wall-clock times
    are the ones written into the Lease for people to read, never compared with anything.
    """

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        name: str = "hypersearch-operator",
        identity: str | None = None,
        lease_seconds: int = 15,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = client.CoordinationV1Api(api)
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.lost = threading.Event()
        self._lock = threading.Lock()
        self.on_lost: Callable[[], None] | None = None
        self._last_renew = float("-inf")  # local time a successful write of ours was sent
        self._observed: tuple[Any, ...] | None = None  # the record last seen ...
        self._observed_at = 0.0  # ... and when, on the local clock
        self._other_holder: str | None = None  # another holder seen on the last read
        self._leading = False
        self._stop_keeping = threading.Event()
        self._keeper: threading.Thread | None = None
        self._gauge = metrics.LEADER.labels(name)
        self._gauge.set(0)

    def _spec(self, acquire: datetime | None, transitions: int) -> client.V1LeaseSpec:
        now = datetime.now(UTC)
        return client.V1LeaseSpec(
            holder_identity=self.identity,
            lease_duration_seconds=self.lease_seconds,
            acquire_time=acquire or now,
            renew_time=now,
            lease_transitions=transitions,
        )

    def _won(self, sent: float) -> bool:
        self._last_renew = sent
        self._leading = True
        self._gauge.set(1)
        return True

    def expired_for_us(self, spec: client.V1LeaseSpec) -> bool:
        """Whether another holder's lease may be taken: its record has not changed for a whole
        lease duration on our clock (a first sighting starts the count)."""
        now = self.clock()
        record = _record(spec)
        if record != self._observed:
            self._observed, self._observed_at = record, now
        duration = spec.lease_duration_seconds or self.lease_seconds
        return now - self._observed_at >= duration

    def try_acquire(self) -> bool:
        """One attempt: create the Lease, renew ours, or take over an expired one."""
        sent = self.clock()
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace, _request_timeout=5)
        except ApiException as e:
            if e.status != 404:
                raise
            body = client.V1Lease(
                metadata=client.V1ObjectMeta(name=self.name), spec=self._spec(None, 0)
            )
            try:
                self.api.create_namespaced_lease(self.namespace, body, _request_timeout=5)
            except ApiException as e2:
                if e2.status == 409:
                    return False
                raise
            return self._won(sent)
        spec = lease.spec or client.V1LeaseSpec()
        ours = spec.holder_identity == self.identity
        self._other_holder = None if ours else spec.holder_identity
        if not ours and spec.holder_identity and not self.expired_for_us(spec):
            return False
        transitions = (spec.lease_transitions or 0) + (0 if ours else 1)
        lease.spec = self._spec(spec.acquire_time if ours else None, transitions)
        try:
            # The read's resourceVersion travels with the body: a concurrent write gets 409.
            self.api.replace_namespaced_lease(self.name, self.namespace, lease, _request_timeout=5)
        except ApiException as e:
            if e.status == 409:  # someone else wrote it first
                return False
            raise
        if not ours:
            log.info(
                "took over lease %s/%s from %s", self.namespace, self.name, spec.holder_identity
            )
        return self._won(sent)

    def acquire(self, stop: threading.Event) -> bool:
        """Block until we lead (True) or ``stop`` is set (False)."""
        waiting_logged = False
        while not stop.is_set():
            try:
                if self.try_acquire():
                    log.info(
                        "leading as %s (lease %s/%s)", self.identity, self.namespace, self.name
                    )
                    return True
            except ApiException as e:
                log.warning("lease %s/%s: %s", self.namespace, self.name, e.reason)
            if not waiting_logged:
                log.info(
                    "another replica leads; waiting for lease %s/%s (held by %s; taken over "
                    "only after its record stays unchanged for a lease duration on this "
                    "replica's clock)",
                    self.namespace,
                    self.name,
                    self._other_holder,
                )
                waiting_logged = True
            stop.wait(min(self.period, 2.0))
        return False

    def fenced(self) -> bool:
        """True once this replica must not write: the lease is lost, or no renewal has been
        confirmed within the renew deadline (checked on every call, so a renewal stuck in a
        request still fences in time)."""
        if self.lost.is_set():
            return True
        if not self._leading:
            return True
        if self.clock() - self._last_renew > self.lease_seconds * RENEW_DEADLINE:
            self._lose("no renewal confirmed within the renew deadline")
            return True
        return False

    def _lose(self, why: str) -> None:
        with self._lock:  # the renewal thread and a fenced writer may get here together
            if self.lost.is_set():
                return
            self.lost.set()
        self._leading = False
        log.error("lost the lease %s/%s (%s); stopping", self.namespace, self.name, why)
        self._gauge.set(0)
        if self.on_lost is not None:
            self.on_lost()

    def renew(self) -> bool:
        """One renewal; False once leadership is lost (or unconfirmed for most of a lease)."""
        if self.lost.is_set():
            return False
        try:
            ok = self.try_acquire()
        except Exception as e:  # network trouble: keep trying until the renew deadline
            log.warning("lease renewal failed: %s", e)
            ok = False
        if not ok and self._other_holder:
            self._lose(f"now held by {self._other_holder}")
            return False
        return not self.fenced()

    @property
    def period(self) -> float:
        return max(0.5, self.lease_seconds / 4)

    def keep(self) -> None:
        """Renew from a thread of its own until stopped or lost (then ``on_lost`` runs)."""

        def loop() -> None:
            while not self._stop_keeping.wait(self.period):
                if not self.renew():
                    return

        self._keeper = threading.Thread(target=loop, name="lease-renewal", daemon=True)
        self._keeper.start()

    def stop_keeping(self) -> None:
        self._stop_keeping.set()
        if self._keeper is not None:
            self._keeper.join(10)

    def release(self) -> None:
        """Give the lease up on a clean exit, so a successor need not wait for it to expire."""
        self.stop_keeping()
        self._leading = False
        self._gauge.set(0)
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace, _request_timeout=5)
            if lease.spec and lease.spec.holder_identity == self.identity:
                lease.spec.holder_identity = None
                lease.spec.renew_time = None
                self.api.replace_namespaced_lease(
                    self.name, self.namespace, lease, _request_timeout=5
                )
        except ApiException as e:
            log.warning("could not release the lease: %s", e.reason)


__all__ = ["RENEW_DEADLINE", "Leader", "default_identity"]
