"""Reading the earlier searches a HyperSearch names in ``spec.stage1.history``, in the operator.

A ``name`` entry is a HyperSearch of the search's **own** namespace (there is no namespace
field: a tenant must not read another namespace through the operator; the admission policy also
refuses a creator who may not ``get`` it). Its results document is rebuilt from the HyperSearch
and its Trials exactly as ``hypersearch report --cluster`` does
(:func:`hypersearch.report.cluster.results_of`), then checked and turned into history rows by
:mod:`hypersearch.report.earlier`. A ``results`` entry (a path on the creator's machine) is
refused: the operator cannot read the user's files.

Nothing here raises for one tenant's bad history: every problem is a line naming the entry.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import urllib3
from kubernetes.client.exceptions import ApiException

from hypersearch.engine.history import Search as HistorySearch
from hypersearch.kube import names
from hypersearch.kube.api import Kube, retryable
from hypersearch.report.cluster import ClusterReportError, owned_trials, results_of
from hypersearch.report.earlier import (
    Earlier,
    HistoryError,
    earlier_search,
    ordered,
    where,
)
from hypersearch.spec.model import HistoryEntry, SearchSpec

log = logging.getLogger("hypersearch.operator")


@dataclass
class ReadHistory:
    """The usable earlier searches by label (oldest first), every problem (one line each,
    naming the entry), and the labels of those that do not exist."""

    searches: dict[str, HistorySearch] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


async def _one(
    kube: Kube, namespace: str, spec: SearchSpec, index: int, entry: HistoryEntry
) -> Earlier:
    """One ``name`` entry read and checked; :class:`HistoryError` (naming it) otherwise, or
    :class:`LookupError` when it does not exist."""
    at = where(index, entry)
    name = str(entry.name)
    if name == spec.name:
        raise HistoryError(f"{at}: names this search itself")
    body = await kube.get_search(namespace, name)
    if body is None:
        raise LookupError(f"{at}: no {names.SEARCH_KIND} named {name!r} in namespace {namespace}")
    phase = (body.get("status") or {}).get("phase")
    if phase not in ("Succeeded", "Failed"):
        raise HistoryError(f"{at}: the search is not finished (phase {phase or 'not started'})")
    listed = await kube.list(
        namespace, names.API_VERSION, names.TRIAL_KIND, names.search_selector(name)
    )
    resources = owned_trials(body, listed)

    def convert() -> Earlier:
        try:
            results = results_of(body, resources)
        except ClusterReportError as e:
            raise HistoryError(f"{at}: {e}") from e
        return earlier_search(results, spec, index, entry)

    return await asyncio.to_thread(convert)


async def read_history(kube: Kube, namespace: str, spec: SearchSpec) -> ReadHistory:
    """Every earlier search of ``spec.stage1.history``, read in ``namespace``. A retryable API
    error (429, 5xx) is raised (the caller tries again later); anything else about an entry is
    a line of :attr:`ReadHistory.errors`."""
    out = ReadHistory()
    found: list[Earlier] = []
    for index, entry in enumerate(spec.history.searches):
        if entry.name is None:
            out.errors.append(
                f"{where(index, entry)}: a path on your machine, for local runs only (the "
                "operator cannot read your files); name an earlier HyperSearch of this namespace"
            )
            continue
        try:
            found.append(await _one(kube, namespace, spec, index, entry))
        except LookupError as e:
            out.errors.append(str(e))
            out.missing.append(entry.label)
        except HistoryError as e:
            out.errors.append(str(e))
        except ApiException as e:
            if retryable(e):
                raise
            out.errors.append(f"{where(index, entry)}: cannot be read: {e.status} {e.reason}")
        except urllib3.exceptions.HTTPError:
            raise
        except Exception as e:  # one tenant's bad history never takes the operator down
            log.exception("%s: reading earlier search %s", namespace, entry.label)
            out.errors.append(f"{where(index, entry)}: cannot be used: {type(e).__name__}: {e}")
    out.searches = ordered(found)
    return out


__all__ = ["ReadHistory", "read_history"]
