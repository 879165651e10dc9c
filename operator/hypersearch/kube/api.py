"""A small asynchronous facade over the Kubernetes client: plain dicts, counted requests.

The blocking ``kubernetes`` client runs in its own pool of worker threads, as many as the
client's connection pool (asyncio's default executor has only CPUs + 4, which made writes to
hundreds of Trials queue behind each other); responses are decoded straight
from JSON (no model objects), which keeps a 500-pod list cheap. ``409 Conflict`` on create
means the deterministic name already exists, i.e. an earlier run of the operator made it.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from hypersearch.kube import names
from hypersearch.kube.metrics import API_REQUESTS

Obj = dict[str, Any]

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


def plural_of(kind: str) -> str:
    """Conventional plural of a custom kind (PyTorchJob -> pytorchjobs, TrainJob -> trainjobs)."""
    low = kind.lower()
    return low + ("es" if low.endswith("s") else "s")


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class Kube:
    """The operator's own API calls (Kopf handles watching)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.batch = client.BatchV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.coordination = client.CoordinationV1Api(api)
        self.requests: Counter[str] = Counter()
        self._threads = ThreadPoolExecutor(API_THREADS, thread_name_prefix="kube-api")

    async def _call(self, verb: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.requests[verb] += 1
        API_REQUESTS.labels(verb).inc()
        kwargs["_preload_content"] = False
        kwargs.setdefault("_request_timeout", 30)
        call = functools.partial(fn, *args, **kwargs)
        resp = await asyncio.get_running_loop().run_in_executor(self._threads, call)
        data = resp.data
        return json.loads(data) if data else {}

    # ----------------------------------------------------------------- generic objects

    async def create(self, namespace: str, body: Obj) -> Obj | None:
        """Create ``body``; None when an object of that name already exists (409)."""
        api_version, kind = body["apiVersion"], body["kind"]
        try:
            if (api_version, kind) in _CORE:
                return dict(
                    await self._call("create", self.core.create_namespaced_pod, namespace, body)
                )
            if (api_version, kind) in _BATCH:
                return dict(
                    await self._call("create", self.batch.create_namespaced_job, namespace, body)
                )
            group, version = split_api_version(api_version)
            return dict(
                await self._call(
                    "create",
                    self.custom.create_namespaced_custom_object,
                    group,
                    version,
                    namespace,
                    plural_of(kind),
                    body,
                )
            )
        except ApiException as e:
            if e.status == 409:
                return None
            raise

    async def delete(self, namespace: str, api_version: str, kind: str, name: str) -> bool:
        """Delete (foreground for workloads so their pods go too); False when already gone."""
        opts = client.V1DeleteOptions(propagation_policy="Background")
        try:
            if (api_version, kind) in _CORE:
                await self._call(
                    "delete", self.core.delete_namespaced_pod, name, namespace, body=opts
                )
            elif (api_version, kind) in _BATCH:
                await self._call(
                    "delete", self.batch.delete_namespaced_job, name, namespace, body=opts
                )
            else:
                group, version = split_api_version(api_version)
                await self._call(
                    "delete",
                    self.custom.delete_namespaced_custom_object,
                    group,
                    version,
                    namespace,
                    plural_of(kind),
                    name,
                    body=opts,
                )
            return True
        except ApiException as e:
            if e.status == 404:
                return False
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
        if (api_version, kind) in _CORE:
            raw = await self._call(
                "list", self.core.list_namespaced_pod, namespace, label_selector=selector
            )
        elif (api_version, kind) in _BATCH:
            raw = await self._call(
                "list", self.batch.list_namespaced_job, namespace, label_selector=selector
            )
        else:
            group, version = split_api_version(api_version)
            raw = await self._call(
                "list",
                self.custom.list_namespaced_custom_object,
                group,
                version,
                namespace,
                plural_of(kind),
                label_selector=selector,
            )
        return list(raw.get("items") or [])

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
        try:
            await self._call(
                "patch",
                self.custom.patch_namespaced_custom_object_status,
                names.GROUP,
                names.VERSION,
                namespace,
                plural,
                name,
                {"status": status},
            )
            return True
        except ApiException as e:
            if e.status == 404:
                return False
            raise


__all__ = ["Kube", "Obj", "load_client", "plural_of", "split_api_version"]
