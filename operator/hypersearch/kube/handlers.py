"""Kopf registrations: one daemon per HyperSearch runs its :class:`SearchController`.

A daemon (rather than a timer) because a search is a long conversation: it keeps its engine,
its scrape bookkeeping and its HTTP session between rounds. Kopf starts one for every
existing HyperSearch when the operator starts, which is how searches resume.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from hypersearch.kube import metrics, names
from hypersearch.kube.api import Kube
from hypersearch.kube.controller import Options, SearchController, plain


@dataclass
class Runtime:
    """What the handlers share, set by :func:`hypersearch.kube.cli.run_operator`."""

    kube: Kube | None = None
    options: Options | None = None
    namespaced: bool = False


RUNTIME = Runtime()


@kopf.on.login()
def login(**_: Any) -> kopf.ConnectionInfo:
    """Kopf talks to the API with exactly the credentials of the operator's own client."""
    if RUNTIME.kube is None:
        raise kopf.PermanentError("the operator runtime is not configured")
    conf = RUNTIME.kube.api.configuration
    auth = (conf.api_key or {}).get("authorization") or (conf.api_key or {}).get("BearerToken")
    token = auth.split(" ", 1)[1] if auth and auth.lower().startswith("bearer ") else auth
    return kopf.ConnectionInfo(
        server=conf.host,
        ca_path=conf.ssl_ca_cert,
        insecure=not conf.verify_ssl,
        scheme="Bearer" if token else None,
        token=token,
        certificate_path=conf.cert_file,
        private_key_path=conf.key_file,
    )


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Keep Kopf's bookkeeping in annotations: the status belongs to the search."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=names.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=names.GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{names.GROUP}/operator"
    settings.posting.level = logging.WARNING
    # Watching fixed namespaces needs no cluster-wide lists (namespaces, CRDs): a namespaced
    # Role is then enough.
    settings.scanning.disabled = RUNTIME.namespaced
    # The pod index below watches only the pods this operator made (server-side selector).
    settings.watching.label_selectors["v1", "pods"] = f"{names.LABEL_MANAGED}={names.MANAGER}"
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60


@kopf.index("v1", "pods", labels={names.LABEL_MANAGED: names.MANAGER})
def search_pods(
    namespace: str | None, labels: Mapping[str, str], body: kopf.Body, **_: Any
) -> dict[tuple[str | None, str], Any]:
    """Every trial and full-training pod by (namespace, search), kept from one watch, so a
    search's round reads its pods from memory instead of listing them."""
    search = labels.get(names.LABEL_SEARCH)
    return {(namespace, search): plain(body)} if search else {}


@kopf.daemon(names.GROUP, names.VERSION, names.SEARCH_PLURAL, cancellation_timeout=10.0)
async def search_daemon(body: kopf.Body, stopped: kopf.DaemonStopped, **kwargs: Any) -> None:
    """Run the search until it ends; return early (and quietly) if it is invalid or done."""
    if RUNTIME.kube is None:
        raise kopf.PermanentError("the operator runtime is not configured")
    raw = plain(body)

    def event(type_: str, reason: str, message: str) -> None:
        kopf.event(raw, type=type_, reason=reason, message=message[:1024])

    async def sleep(seconds: float) -> None:
        await stopped.wait(seconds)

    search_pods: kopf.Index[Any, Any] = kwargs["search_pods"]  # the index above, by its name
    key = (raw["metadata"].get("namespace"), raw["metadata"]["name"])

    def pods() -> list[dict[str, Any]]:
        return [dict(p) for p in search_pods.get(key, [])]

    controller = SearchController(RUNTIME.kube, raw, event, RUNTIME.options, pods=pods)
    await controller.run(lambda: bool(stopped), sleep)
    # A finished search's daemon idles until the resource goes, so that its metrics go too.
    await stopped.wait()
    if stopped.reason and kopf.DaemonStoppingReason.RESOURCE_DELETED in stopped.reason:
        metrics.forget_search(controller.namespace, controller.name)


__all__ = ["RUNTIME", "Runtime", "configure", "search_daemon"]
