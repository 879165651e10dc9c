"""A small asynchronous facade over the Kubernetes client: plain dicts, counted requests.

The blocking ``kubernetes`` client runs in its own pool of worker threads, as many as the
client's connection pool (asyncio's default executor has only CPUs + 4, which made writes to
hundreds of Trials queue behind each other); responses are decoded straight
from JSON (no model objects), which keeps a 500-pod list cheap. ``409 Conflict`` on create
means the deterministic name already exists: adopted only when the search owns it (an earlier
run of the operator made it), never a stranger's object of the same name.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from hypersearch.kube import names
from hypersearch.kube.metrics import API_REQUESTS
from hypersearch.report.files import finite_document

Obj = dict[str, Any]
log = logging.getLogger("hypersearch.operator")

# Kinds with a typed API; anything else goes through the custom-objects API.
_CORE = {("v1", "Pod"): "pods"}
_BATCH = {("batch/v1", "Job"): "jobs"}
API_THREADS = 32  # concurrent API requests: worker threads and pooled connections alike


def load_client(kubeconfig: str | None = None, context: str | None = None) -> client.ApiClient:
    """An ApiClient from the in-cluster service account, else the kubeconfig."""
    conf = client.Configuration()
    try:
        if kubeconfig is None:
            config.load_incluster_config(client_configuration=conf)  # type: ignore[no-untyped-call]
        else:
            raise config.ConfigException("kubeconfig given")
    except config.ConfigException:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context, client_configuration=conf
        )
    conf.connection_pool_maxsize = API_THREADS
    return client.ApiClient(conf)


RETRIES = 5  # of a request answered 429 or 5xx
BACKOFF_MAX = 30.0


def retryable(e: ApiException) -> bool:
    """Too many requests, or the server's own trouble: worth asking again."""
    return e.status == 429 or (e.status or 0) >= 500


def retry_after(e: ApiException, attempt: int) -> float:
    """The server's Retry-After (seconds), else 0.5 s doubling per attempt, at most 30 s."""
    header = (e.headers or {}).get("Retry-After") if e.headers else None
    try:
        if header is not None:
            return min(BACKOFF_MAX, max(0.0, float(header)))
    except ValueError:
        pass
    return float(min(BACKOFF_MAX, 0.5 * 2**attempt))


def refusal(e: ApiException, kind: str, name: str) -> str:
    """A 4xx answer (other than 409/429) as one sentence: the request will never succeed as
    it is (an invalid template, a Pod Security or quota denial, missing RBAC)."""
    message = ""
    with contextlib.suppress(AttributeError, TypeError, ValueError):
        message = str(json.loads(e.body or "{}").get("message") or "")
    return f"the API server refused the {kind} {name}: {e.status} {e.reason}: {message}"[:600]


class ForeignObject(Exception):
    """An object with a child's name exists but is not the search's: never adopted."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"a {kind} named {name} already exists and does not belong to this search")


def owned_by(obj: Obj, owner_uid: str) -> bool:
    """Whether ``obj`` lists ``owner_uid`` among its owner references."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(isinstance(r, dict) and r.get("uid") == owner_uid for r in refs)


def plural_of(kind: str) -> str:
    """Conventional plural of a custom kind (PyTorchJob -> pytorchjobs, TrainJob -> trainjobs)."""
    low = kind.lower()
    return low + ("es" if low.endswith("s") else "s")


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class Fenced(Exception):
    """A write refused because this replica no longer holds (or cannot confirm) the lease."""

    def __init__(self, verb: str) -> None:
        super().__init__(
            f"refusing to {verb}: this operator replica no longer holds the leader lease "
            "(lost, or not renewed within the renew deadline); it is shutting down"
        )


class Kube:
    """The operator's own API calls (Kopf handles watching).

    ``fence``, when set (by the leader election, see ``kube/cli.py``), is asked before every
    mutating call (``create``, ``delete``, ``patch_status``): once it returns True the call
    raises :class:`Fenced` without reaching the API server.
    """

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.batch = client.BatchV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.coordination = client.CoordinationV1Api(api)
        self.requests: Counter[str] = Counter()
        self._threads = ThreadPoolExecutor(API_THREADS, thread_name_prefix="kube-api")
        self.fence: Callable[[], bool] | None = None

    def _check_fence(self, verb: str) -> None:
        if self.fence is not None and self.fence():
            raise Fenced(verb)

    async def _call(self, verb: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One request; 429 and 5xx answers and requests that got no answer are retried with
        backoff (honouring Retry-After), every other error is the caller's to classify (see
        :func:`refusal`)."""
        kwargs["_preload_content"] = False
        kwargs.setdefault("_request_timeout", 30)
        call = functools.partial(fn, *args, **kwargs)
        for attempt in range(RETRIES + 1):
            self.requests[verb] += 1
            API_REQUESTS.labels(verb).inc()
            try:
                resp = await asyncio.get_running_loop().run_in_executor(self._threads, call)
                break
            except ApiException as e:
                if not retryable(e) or attempt == RETRIES:
                    raise
                await asyncio.sleep(retry_after(e, attempt))
            except (urllib3.exceptions.HTTPError, OSError):
                # No answer at all (connection refused or reset, timed out): as for a 5xx.
                if attempt == RETRIES:
                    raise
                await asyncio.sleep(min(BACKOFF_MAX, 0.5 * 2**attempt))
        data = resp.data
        return json.loads(data) if data else {}

    # ----------------------------------------------------------------- generic objects

    def _verb(
        self, verb: str, api_version: str, kind: str
    ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """The client method for ``verb`` on a kind, with the leading arguments it needs."""
        if (api_version, kind) in _CORE:
            return getattr(self.core, f"{verb}_namespaced_pod"), ()
        if (api_version, kind) in _BATCH:
            return getattr(self.batch, f"{verb}_namespaced_job"), ()
        group, version = split_api_version(api_version)
        custom_verb = "get" if verb == "read" else verb
        return getattr(self.custom, f"{custom_verb}_namespaced_custom_object"), (group, version)

    async def get(self, namespace: str, api_version: str, kind: str, name: str) -> Obj | None:
        """One object, None when it does not exist."""
        fn, lead = self._verb("read", api_version, kind)
        try:
            if lead:
                return dict(await self._call("get", fn, *lead, namespace, plural_of(kind), name))
            return dict(await self._call("get", fn, name, namespace))
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    async def create(self, namespace: str, body: Obj, owner_uid: str | None = None) -> Obj | None:
        """Create ``body``; None when it already exists and is ours (a repeated create after a
        crash: names are deterministic). With ``owner_uid``, an existing object of that name
        that the owner does not control raises :class:`ForeignObject` (it is never adopted)."""
        self._check_fence("create")
        api_version, kind = body["apiVersion"], body["kind"]
        fn, lead = self._verb("create", api_version, kind)
        try:
            if lead:
                return dict(await self._call("create", fn, *lead, namespace, plural_of(kind), body))
            return dict(await self._call("create", fn, namespace, body))
        except ApiException as e:
            if e.status != 409:
                raise
        if owner_uid is None:
            return None
        name = body["metadata"]["name"]
        existing = await self.get(namespace, api_version, kind, name)
        if existing is not None and not owned_by(existing, owner_uid):
            raise ForeignObject(kind, name)
        return None

    async def delete(
        self,
        namespace: str,
        api_version: str,
        kind: str,
        name: str,
        owner_uid: str,
        grace: int | None = None,
    ) -> bool:
        """Delete our object of that name; False when it is gone or not ours (then left alone).

        The delete carries the object's UID as a precondition, so an object recreated under the
        same name by someone else between the read and the delete is never touched. ``grace``
        overrides the object's grace period (0 force-deletes a pod whose node is lost)."""
        self._check_fence("delete")
        existing = await self.get(namespace, api_version, kind, name)
        if existing is None:
            return False
        if not owned_by(existing, owner_uid):
            log.warning("not deleting %s %s/%s: not this search's", kind, namespace, name)
            return False
        opts = client.V1DeleteOptions(
            grace_period_seconds=grace,  # 0: do not wait for the node (force)
            propagation_policy="Background",
            preconditions=client.V1Preconditions(uid=existing["metadata"]["uid"]),
        )
        fn, lead = self._verb("delete", api_version, kind)
        try:
            if lead:
                await self._call("delete", fn, *lead, namespace, plural_of(kind), name, body=opts)
            else:
                await self._call("delete", fn, name, namespace, body=opts)
            return True
        except ApiException as e:
            if e.status in (404, 409):  # gone, or replaced since the read (UID precondition)
                return False
            raise

    async def get_namespace(self, name: str) -> Obj | None:
        """The Namespace object (its annotations carry the administrator's allow-lists)."""
        try:
            return dict(await self._call("get", self.core.read_namespace, name))
        except ApiException as e:
            if e.status in (403, 404):
                return None
            raise

    async def events_about(self, namespace: str, uid: str) -> list[Obj]:
        """The events whose involved object has this uid (one object, not a reused name)."""
        raw = await self._call(
            "list",
            self.core.list_namespaced_event,
            namespace,
            field_selector=f"involvedObject.uid={uid}",
        )
        return list(raw.get("items") or [])

    async def list(self, namespace: str, api_version: str, kind: str, selector: str) -> list[Obj]:
        """Every object of ``kind`` matching ``selector``, read in pages of 500 (limit and
        continue), so neither the API server nor this process builds one huge response. A
        continue token that expired (410 Gone: the pages would no longer be one consistent
        snapshot) starts the listing again from the first page."""
        page_size = 500  # objects per page (a Trial status is at most 64 KiB: <= 32 MiB a page)
        fn, lead = self._verb("list", api_version, kind)
        args = (*lead, namespace, plural_of(kind)) if lead else (namespace,)
        items: list[Obj] = []
        token: str | None = None
        for _restart in range(3):
            items, token = [], None
            try:
                while True:
                    more: dict[str, str] = {"_continue": token} if token else {}
                    raw = await self._call(
                        "list", fn, *args, label_selector=selector, limit=page_size, **more
                    )
                    items.extend(raw.get("items") or [])
                    token = (raw.get("metadata") or {}).get("continue") or None
                    if not token:
                        return items
            except ApiException as e:
                if e.status != 410 or token is None or _restart == 2:
                    raise
        return items  # not reached: the last restart returns or raises

    # ----------------------------------------------------------------- our resources

    async def get_search(self, namespace: str, name: str) -> Obj | None:
        try:
            return dict(
                await self._call(
                    "get",
                    self.custom.get_namespaced_custom_object,
                    names.GROUP,
                    names.VERSION,
                    namespace,
                    names.SEARCH_PLURAL,
                    name,
                )
            )
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    async def patch_status(self, namespace: str, plural: str, name: str, status: Obj) -> bool:
        """Merge-patch the status subresource; False when the object is gone."""
        self._check_fence("patch status")
        try:
            await self._call(
                "patch",
                self.custom.patch_namespaced_custom_object_status,
                names.GROUP,
                names.VERSION,
                namespace,
                plural,
                name,
                # A metric of 1e308 can make a cost infinite: JSON (and etcd) take finite
                # numbers only; what was replaced is listed under nonFinite.
                {"status": finite_document(status)},
            )
            return True
        except ApiException as e:
            if e.status == 404:
                return False
            raise


__all__ = [
    "Fenced",
    "ForeignObject",
    "Kube",
    "Obj",
    "load_client",
    "owned_by",
    "plural_of",
    "split_api_version",
]
