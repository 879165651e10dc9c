"""Leader election on a coordination.k8s.io Lease, so two replicas never act at once.

The operator takes the Lease before Kopf starts and renews it from a task; when a renewal
has not succeeded for a whole lease duration it stops Kopf and exits non-zero (the Deployment
restarts it as a follower). Takeover only happens once the holder's lease has expired, and
every write carries the Lease's resourceVersion, so two candidates cannot both win.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from hypersearch.kube import metrics

log = logging.getLogger("hypersearch.leader")


def default_identity() -> str:
    return (
        f"{os.environ.get('POD_NAME') or socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    )


class Leader:
    """Acquire, renew and release one Lease."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        name: str = "hypersearch-operator",
        identity: str | None = None,
        lease_seconds: int = 15,
    ) -> None:
        self.api = client.CoordinationV1Api(api)
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.lease_seconds = lease_seconds
        self.lost = threading.Event()
        self._last_renew = 0.0
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

    def try_acquire(self) -> bool:
        """One attempt: create the Lease, renew ours, or take over an expired one."""
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
            self._last_renew = time.monotonic()
            self._gauge.set(1)
            return True
        spec = lease.spec or client.V1LeaseSpec()
        ours = spec.holder_identity == self.identity
        if not ours and spec.holder_identity:
            renewed = spec.renew_time or spec.acquire_time
            duration = spec.lease_duration_seconds or self.lease_seconds
            if renewed is not None and (datetime.now(UTC) - renewed).total_seconds() < duration:
                return False
        transitions = (spec.lease_transitions or 0) + (0 if ours else 1)
        lease.spec = self._spec(spec.acquire_time if ours else None, transitions)
        try:
            self.api.replace_namespaced_lease(self.name, self.namespace, lease, _request_timeout=5)
        except ApiException as e:
            if e.status == 409:  # someone else wrote it first
                return False
            raise
        self._last_renew = time.monotonic()
        self._gauge.set(1)
        return True

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
                    "another replica leads; waiting for lease %s/%s", self.namespace, self.name
                )
                waiting_logged = True
            stop.wait(max(1.0, self.lease_seconds / 5))
        return False

    def renew(self) -> bool:
        """One renewal; False once leadership is lost (or unconfirmed for most of a lease)."""
        try:
            ok = self.try_acquire()
        except Exception as e:  # network trouble: keep trying until the lease would expire
            log.warning("lease renewal failed: %s", e)
            ok = False
        if not ok and time.monotonic() - self._last_renew > self.lease_seconds * 0.8:
            log.error("lost the lease %s/%s; stopping", self.namespace, self.name)
            self.lost.set()
            self._gauge.set(0)
            return False
        return True

    @property
    def period(self) -> float:
        return max(0.5, self.lease_seconds / 3)

    def release(self) -> None:
        """Give the lease up on a clean exit, so a successor need not wait for it to expire."""
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


__all__ = ["Leader", "default_identity"]
