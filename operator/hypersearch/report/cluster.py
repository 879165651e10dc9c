"""The results document of a HyperSearch in a cluster, read through the Kubernetes API.

The engine is rebuilt exactly as a restarting operator rebuilds it: the HyperSearch status
(search-level decisions) joined with each child ``Trial`` resource's ``status.record`` by
:func:`hypersearch.kube.state.restore`. Nothing is written to the cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from hypersearch.engine import Search
from hypersearch.engine.trial import TrialState
from hypersearch.kube import names
from hypersearch.kube.state import restore
from hypersearch.report.results import build_results
from hypersearch.spec import SpecInvalid, parse

Obj = dict[str, Any]
FINAL_PHASES = ("Succeeded", "Failed")


class ClusterReportError(Exception):
    """Why a HyperSearch could not be read from the cluster, naming the object."""


@dataclass(frozen=True)
class ClusterEvent:
    """A Kubernetes Event on the HyperSearch, shaped like the local runner's event log."""

    at: float
    trial: str
    kind: str
    text: str


def split_target(target: str, default_namespace: str | None) -> tuple[str, str]:
    """``NAMESPACE/NAME`` (or ``NAME`` in the context's namespace) to (namespace, name)."""
    namespace, _, name = target.rpartition("/")
    namespace = namespace or default_namespace or "default"
    if not name or "/" in namespace:
        raise ClusterReportError(f"--cluster {target!r}: expected NAMESPACE/NAME")
    return namespace, name


def load_api(kubeconfig: str | None, context: str | None) -> tuple[client.ApiClient, str | None]:
    """An ApiClient from the kubeconfig (like kubectl), else the in-cluster service account.

    Also returns the namespace of the chosen kubeconfig context, if it sets one.
    """
    conf = client.Configuration()
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context, client_configuration=conf
        )
    except (config.ConfigException, OSError) as e:
        if kubeconfig is not None or context is not None:
            raise ClusterReportError(f"cannot load kubeconfig {kubeconfig or ''}: {e}") from e
        try:
            config.load_incluster_config(client_configuration=conf)  # type: ignore[no-untyped-call]
        except config.ConfigException as e2:
            raise ClusterReportError(f"no kubeconfig found and not in a cluster: {e}") from e2
        return client.ApiClient(conf), None
    namespace: str | None = None
    try:
        contexts, active = config.list_kube_config_contexts(kubeconfig)  # type: ignore[no-untyped-call]
        chosen = next((c for c in contexts if c["name"] == context), active) if context else active
        namespace = (chosen or {}).get("context", {}).get("namespace")
    except (config.ConfigException, OSError, KeyError, TypeError):
        pass
    return client.ApiClient(conf), namespace


def _api_message(e: ApiException) -> str:
    try:
        return str(json.loads(e.body or "{}").get("message") or e.reason)
    except (ValueError, AttributeError):
        return str(e.reason)


def _forbidden(what: str, e: ApiException) -> ClusterReportError:
    return ClusterReportError(f"no access to {what} (403 Forbidden): {_api_message(e)}")


def _namespace_missing(api: client.ApiClient, namespace: str) -> bool:
    """True only when the API server says so (a 403 here says nothing: don't guess)."""
    try:
        client.CoreV1Api(api).read_namespace(namespace)
    except ApiException as e:
        return bool(e.status == 404)
    return False


def read_objects(api: client.ApiClient, namespace: str, name: str) -> tuple[Obj, list[Obj]]:
    """The HyperSearch and its Trial resources, or a :class:`ClusterReportError`."""
    custom = client.CustomObjectsApi(api)
    what = f"{names.SEARCH_KIND} {namespace}/{name}"
    try:
        try:
            body: Obj = custom.get_namespaced_custom_object(  # type: ignore[assignment]
                names.GROUP, names.VERSION, namespace, names.SEARCH_PLURAL, name
            )
        except ApiException as e:
            if e.status == 403:
                raise _forbidden(what, e) from e
            if e.status == 404:
                if _namespace_missing(api, namespace):
                    raise ClusterReportError(
                        f"{what} not found: namespace {namespace!r} does not exist"
                    ) from e
                raise ClusterReportError(f"{what} not found ({_api_message(e)})") from e
            raise ClusterReportError(f"reading {what}: {e.status} {_api_message(e)}") from e
        try:
            listed: Obj = custom.list_namespaced_custom_object(  # type: ignore[assignment]
                names.GROUP,
                names.VERSION,
                namespace,
                names.TRIAL_PLURAL,
                label_selector=names.search_selector(name),
            )
        except ApiException as e:
            trials = f"the {names.TRIAL_KIND} resources of {what}"
            if e.status == 403:
                raise _forbidden(trials, e) from e
            raise ClusterReportError(f"listing {trials}: {e.status} {_api_message(e)}") from e
    except urllib3.exceptions.HTTPError as e:
        host = api.configuration.host
        raise ClusterReportError(f"cannot reach the API server at {host}: {e}") from e
    return body, owned_trials(body, listed.get("items") or [])


def owned_trials(body: Obj, listed: list[Obj]) -> list[Obj]:
    """The listed Trial resources that belong to the HyperSearch ``body`` (not a deleted
    namesake's)."""
    uid = body.get("metadata", {}).get("uid")
    return [
        t
        for t in listed
        if not uid
        or not t.get("metadata", {}).get("ownerReferences")
        or any(o.get("uid") == uid for o in t["metadata"]["ownerReferences"])
    ]


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _since(start: datetime | None, value: Any) -> float | None:
    t = _time(value)
    return round((t - start).total_seconds(), 2) if t and start else None


def _elapsed(body: Obj, start: datetime | None) -> float:
    """Creation to the Succeeded/Failed transition; to now while the search still runs."""
    status = body.get("status") or {}
    end: datetime | None = None
    if status.get("phase") in FINAL_PHASES:
        for c in status.get("conditions") or []:
            if c.get("type") == status["phase"] and c.get("status") == "True":
                end = _time(c.get("lastTransitionTime"))
    end = end or datetime.now(UTC)
    return max(0.0, (end - start).total_seconds()) if start else 0.0


def read_events(api: client.ApiClient, body: Obj, start: datetime | None) -> list[ClusterEvent]:
    """The HyperSearch's Events, oldest first; none when they can't be read (best effort)."""
    meta = body["metadata"]
    try:
        items = (
            client.CoreV1Api(api)
            .list_namespaced_event(
                meta["namespace"],
                field_selector=f"involvedObject.kind={names.SEARCH_KIND},"
                f"involvedObject.name={meta['name']}",
            )
            .items
        )
    except (ApiException, urllib3.exceptions.HTTPError):
        return []
    out = []
    for e in items:
        when = e.last_timestamp or e.event_time or e.first_timestamp
        at = round((when - start).total_seconds(), 2) if when and start else 0.0
        out.append(ClusterEvent(at, "", e.reason or "", e.message or ""))
    return sorted(out, key=lambda ev: ev.at)


def rebuild(body: Obj, resources: list[Obj]) -> Search:
    """The engine as the operator rebuilds it on restart (accepted spec + status + Trials)."""
    meta = body["metadata"]
    status = body.get("status") or {}
    what = f"{names.SEARCH_KIND} {meta['namespace']}/{meta['name']}"
    if not resources:
        phase = status.get("phase") or "not yet picked up by the operator"
        reason = f": {status['reason']}" if status.get("reason") else ""
        raise ClusterReportError(f"{what} has no trials yet (phase {phase}{reason})")
    accepted = status.get("acceptedSpec")
    document = {
        "apiVersion": names.API_VERSION,
        "kind": names.SEARCH_KIND,
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
        "spec": accepted if isinstance(accepted, dict) else body.get("spec") or {},
    }
    try:
        spec = parse(document)
    except SpecInvalid as e:
        raise ClusterReportError(
            f"{what} has an invalid spec: {'; '.join(str(x) for x in e.errors)}"
        ) from e
    return restore(spec, status, resources)


def cluster_results(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    """The ``results.json`` document of a HyperSearch in the cluster."""
    body, resources = read_objects(api, namespace, name)
    start = _time(body["metadata"].get("creationTimestamp"))
    events = read_events(api, body, start)
    return results_of(body, resources, events, api.configuration.host)


def results_of(
    body: Obj, resources: list[Obj], events: list[ClusterEvent] | None = None, server: str = ""
) -> dict[str, Any]:
    """The ``results.json`` document of a HyperSearch from its objects as read (no API call):
    ``hypersearch report --cluster`` and the operator reading an earlier search named as
    history both build it here. Raises :class:`ClusterReportError`."""
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    search = rebuild(body, resources)
    start = _time(body["metadata"].get("creationTimestamp"))
    created = {
        r["metadata"]["name"]: _since(start, r["metadata"].get("creationTimestamp"))
        for r in resources
    }
    meta: dict[str, dict[str, Any]] = {
        t.name: {
            "startedAt": created.get(t.name),
            "stopPosition": t.position if t.state is TrialState.STOPPED else None,
        }
        for t in search.trials
    }
    created_at = body["metadata"].get("creationTimestamp")
    results = build_results(
        search,
        meta,
        events or [],
        _elapsed(body, start),
        started_at=created_at if isinstance(created_at, str) else None,
    )
    status = body.get("status") or {}
    held = (status.get("cost") or {}).get("resourceSeconds")
    if held is not None:  # the operator's account of every pod's requests x lifetime
        results["cost"]["resourceSeconds"] = held
    results["cluster"] = {
        "namespace": namespace,
        "name": name,
        "uid": body["metadata"].get("uid"),
        "phase": status.get("phase"),
        "winner": status.get("winner"),
        "server": server,
    }
    return results


def default_out(namespace: str, name: str) -> Path:
    return Path("results") / f"{namespace}-{name}"


__all__ = [
    "ClusterReportError",
    "cluster_results",
    "default_out",
    "load_api",
    "owned_trials",
    "read_objects",
    "rebuild",
    "results_of",
    "split_target",
]
