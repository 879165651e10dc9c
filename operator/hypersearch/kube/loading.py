"""One search in the operator: its state, loading it (validation, the administrator's rules,
resuming from the cluster) and writing it back. The control loop is :mod:`controller`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubernetes.client.exceptions import ApiException

from hypersearch.engine import Search, StartTrial
from hypersearch.engine.history import Search as HistorySearch
from hypersearch.engine.planner import start_action
from hypersearch.kube import metrics, names, trail
from hypersearch.kube.api import Kube, owned_by
from hypersearch.kube.children import ChildRefused, Children
from hypersearch.kube.conditions import set_condition
from hypersearch.kube.history import read_history
from hypersearch.kube.resources import trial_resource
from hypersearch.kube.state import pod_ledgers, restore, spec_digest, sumcount_states
from hypersearch.kube.status import StatusWriter, search_status
from hypersearch.kube.usage import PodUse
from hypersearch.monitor import HealthPolicy, Monitor
from hypersearch.spec import SpecInvalid, check, parse, spec_warnings
from hypersearch.spec.model import SearchSpec
from hypersearch.spec.safety import DEFAULT_WORKLOAD_KINDS, Admission, safety_errors
from hypersearch.spec.schema import apply_defaults

Obj = dict[str, Any]
log = logging.getLogger("hypersearch.operator")
FINAL_PHASES = ("Succeeded", "Failed", "Invalid")


class EventSink(Protocol):
    def __call__(self, type_: str, reason: str, message: str) -> None: ...


@dataclass
class Options:
    """Operator-wide knobs (flags of ``hypersearch operator``)."""

    # Deadlines for searches whose spec.deadlines leaves a field unset.
    deadlines: HealthPolicy = field(default_factory=HealthPolicy)
    max_pod_recreations: int = 3  # pods deleted by someone else are recreated this often
    scrape_concurrency: int = 64
    progress_persist_seconds: float = 30.0  # position-only changes are written this often
    # Stage-2 kinds the administrator allows (``group/version/Kind``), as in the admission policy.
    workload_kinds: frozenset[str] = frozenset(DEFAULT_WORKLOAD_KINDS)
    # The operator's own namespace: searches there are refused (its pods could run as the
    # operator's ServiceAccount, whose token manages every watched namespace).
    refused_namespace: str | None = None


def plain(value: Any) -> Any:
    """A Kopf body (mapping views) as plain JSON data."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _trial_id(resource: Obj) -> int:
    try:
        return int((resource.get("spec") or {})["id"])
    except (KeyError, TypeError, ValueError):
        return -1


class SearchBase:
    """One search's state in the operator, how it is loaded (validated, checked against the
    administrator's rules, resumed from the cluster) and how it is written back."""

    def __init__(
        self,
        kube: Kube,
        body: Obj,
        events: EventSink,
        options: Options | None = None,
        pods: Callable[[], list[Obj]] | None = None,
    ) -> None:
        self.kube = kube
        # The search's pods as the operator's pod index holds them (None: list them each round).
        self.indexed_pods = pods
        self.created_at: dict[int, float] = {}  # when each trial's child was last created
        self.cleaned: set[int] = set()  # ended trials whose leftover pod was deleted
        self.forced: set[str] = set()  # UIDs of pods stuck terminating that were force-deleted
        # Trials (by name) whose leftover children a finished search deleted on load.
        self.swept: set[str] = set()
        self._trouble_since: float | None = None  # since when rounds fail to reach the API
        # Stage-2 trials whose trainer finished or pods ended, waiting for the workload's
        # condition: since when (monotonic).
        self.idle_since: dict[int, float] = {}
        self.body = plain(body)
        self.name: str = self.body["metadata"]["name"]
        self.uid: str = self.body["metadata"].get("uid") or ""
        # UIDs that own this search's pods: the search's and every workload's seen so far.
        self.owners: set[str] = {self.uid}
        self.namespace: str = self.body["metadata"]["namespace"]
        self.generation: int | None = self.body["metadata"].get("generation")
        self.status: Obj = dict(self.body.get("status") or {})
        self.events = events
        self.options = options or Options()
        self.spec: SearchSpec | None = None
        self.admission = Admission(workload_kinds=self.options.workload_kinds)
        self.search: Search | None = None
        self.monitor: Monitor | None = None
        self.health: HealthPolicy | None = None
        self.recreated: dict[int, int] = {}
        self.writer = StatusWriter(
            kube, self.namespace, self.name, self.options.progress_persist_seconds
        )
        self.children = Children(kube, self.namespace, self.uid, self.admission)
        self._pending_failures: list[tuple[int, str]] = []
        self.rounds = 0
        self.resumed = False
        # Each trial's pods: requests and lifetimes (persisted in the Trial status).
        self.pods: dict[int, dict[str, PodUse]] = {}
        self.now = time.time()  # wall clock of this round (pod timestamps are wall clock)
        self._listed_at: float | None = None  # when pods were last listed
        self.history_read = False  # the earlier searches were read again before promotion

    # ----------------------------------------------------------------- loading

    def _document(self, spec: Obj) -> Obj:
        return {
            "apiVersion": names.API_VERSION,
            "kind": names.SEARCH_KIND,
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": spec,
        }

    async def load(self) -> bool:
        """Validate, then rebuild the engine from the cluster; False when there is nothing to do."""
        if self.status.get("phase") in FINAL_PHASES:
            metrics.set_search_phase(self.namespace, self.name, self.status["phase"])
            return False
        current = self.body.get("spec") or {}
        accepted = self.status.get("acceptedSpec")
        spec_doc = accepted if isinstance(accepted, dict) else current
        _, errors = check(self._document(spec_doc))
        if errors:
            await self._invalid("; ".join(str(e) for e in errors))
            return False
        try:
            self.spec = parse(self._document(spec_doc))
        except SpecInvalid as e:
            await self._invalid("; ".join(str(x) for x in e.errors))
            return False
        if self.namespace == self.options.refused_namespace:
            await self._invalid(
                f"metadata.namespace: {self.namespace} is the operator's own namespace, which it "
                "does not manage; create the search in a namespace of its own"
            )
            return False
        self.monitor = Monitor(self.spec, self.options.scrape_concurrency)
        self.health = self.options.deadlines.with_spec(
            self.spec.deadlines, self.spec.metrics.max_failures
        )
        namespace = await self.kube.get_namespace(self.namespace)
        self.admission = Admission.for_namespace(namespace, self.options.workload_kinds)
        self.children = Children(self.kube, self.namespace, self.uid, self.admission)
        unsafe = safety_errors(self.spec, self.admission)
        if unsafe:
            await self._invalid("; ".join(str(e) for e in sorted(unsafe)))
            return False
        history: dict[str, HistorySearch] = {}
        if accepted is None and self.spec.history.searches:
            # Admission: every earlier search named must exist here, be finished and match.
            read = await read_history(self.kube, self.namespace, self.spec)
            if read.errors:
                await self._invalid("; ".join(read.errors))
                return False
            history = read.searches
        if accepted is not None and self._edited(current, accepted):
            await self._reject_edit()
        listed = await self.kube.list(
            self.namespace, names.API_VERSION, names.TRIAL_KIND, names.search_selector(self.name)
        )
        # Only this search's own Trials: not a deleted namesake's, nor a forged one (whose id
        # could make the engine allocate that many records).
        most = self.spec.trials + self.spec.top_k
        resources = [r for r in listed if owned_by(r, self.uid) and _trial_id(r) in range(most)]
        # A ``sumcount`` trial continues from its last persisted boundary (no hole).
        self.monitor.resumed = sumcount_states(resources)
        self.search = restore(self.spec, self.status, resources)
        self.search.history = history  # read again at promotion (see refresh_history)
        self.pods = pod_ledgers(resources)
        ids = {t.name: t.id for t in self.search.trials}
        recreations = self.status.get("recreations") or {}
        self.recreated = {ids[n]: int(c) for n, c in recreations.items() if n in ids}
        stored = {int(r["spec"]["id"]) for r in resources if (r.get("status") or {}).get("record")}
        for trial in self.search.trials:  # what the cluster holds now: no need to rewrite
            if trial.id in stored:
                saved = self.monitor.sumcount(trial.id, trial.windows.keys())
                self.writer.remember(trial, self.pods.get(trial.id), saved)
        if not self.status.get("acceptedSpec"):
            self.status["acceptedSpec"] = current
            self.status["specDigest"] = spec_digest(current)
        resumed = self.resumed = bool(resources)
        self.status["conditions"] = set_condition(
            self.status.get("conditions") or [],
            "Running",
            True,
            "Resumed" if resumed else "Started",
            f"resumed with {len(self.search.trials)} trials from the cluster"
            if resumed
            else "search started",
            self.generation,
        )
        self.status["conditions"] = set_condition(
            self.status["conditions"], "Invalid", False, "SpecValid", "the spec is valid",
            self.generation,
        )  # fmt: skip
        if not resumed:
            self.events("Normal", "Started", f"search started: {self.spec.trials} trials")
            warnings = spec_warnings(self.spec)
            if warnings:  # once, at admission: settings the benchmark measured to be poor
                fields = ", ".join(w.path for w in warnings)  # first: the message is cut at 1 KiB
                self.events(
                    "Warning",
                    "SpecWarning",
                    f"{len(warnings)} setting(s) docs/benchmarks.md measured to search poorly "
                    f"({fields}); the search runs as specified. "
                    + "; ".join(str(w) for w in warnings),
                )
        else:
            self.events("Normal", "Resumed", f"resumed with {len(self.search.trials)} trials")
            written = {
                r["metadata"]["name"]: w
                for r in resources
                if (w := trail.written_at(r)) is not None
            }
            await self._post_lost_events(written)
        await self.persist_search(force=True)
        return True

    async def _post_lost_events(self, written: dict[str, trail.Written]) -> None:
        """Post the trial events a crashed leader decided on but never got to post."""
        assert self.search is not None
        uid = (self.body.get("metadata") or {}).get("uid")
        if not uid:
            return
        try:
            items = await self.kube.events_about(self.namespace, uid)
        except ApiException as e:  # e.g. RBAC from an older install without "list events"
            log.warning("cannot list the events of %s/%s: %s", self.namespace, self.name, e.reason)
            return
        posted = [(e.get("type", ""), e.get("reason", ""), e.get("message") or "") for e in items]
        times = [trail.timestamp((e.get("metadata") or {}).get("creationTimestamp")) for e in items]
        known = [t for t in times if t is not None]
        if not known:
            return  # every event expired (or none was ever posted): nothing to compare with
        wanted = trail.expected(self.search.trials, written, horizon=min(known))
        for type_, reason, message in trail.missing(wanted, posted):
            self.events(type_, reason, message + trail.TAKEOVER_NOTE)

    async def refresh_history(self) -> None:
        """Just before the step that promotes: read the earlier searches again (they may have
        gone or changed since admission, or this operator restarted). One that is gone or can
        no longer be used gets a Warning event and the ranking uses the rest (the plain
        ranking when none is left); never an error of the search."""
        search, spec = self.search, self.spec
        if (
            search is None
            or spec is None
            or self.history_read
            or not spec.history.searches
            or not search.promotes_next()
        ):
            return
        read = await read_history(self.kube, self.namespace, spec)
        self.history_read = True
        for line in read.errors:
            gone = any(f"({label})" in line for label in read.missing)
            self.events(
                "Warning",
                "HistoryMissing" if gone else "HistoryUnusable",
                f"{line}; the ranking uses the other earlier searches "
                f"({len(read.searches)} of {len(spec.history.searches)})",
            )
        search.history = read.searches

    def spec_for_cleanup(self) -> None:
        """For a search that already ended: its accepted spec and deadlines, enough to find and
        delete what it left running (none when the spec no longer parses: defaults then)."""
        accepted = self.status.get("acceptedSpec")
        try:
            self.spec = parse(self._document(accepted)) if isinstance(accepted, dict) else None
        except SpecInvalid:
            self.spec = None
        self.health = (
            self.options.deadlines.with_spec(self.spec.deadlines, self.spec.metrics.max_failures)
            if self.spec is not None
            else self.options.deadlines
        )

    async def _invalid(self, message: str) -> None:
        self.status["phase"] = "Invalid"
        self.status["reason"] = message
        self.status["conditions"] = set_condition(
            self.status.get("conditions") or [], "Invalid", True, "SpecInvalid", message,
            self.generation,
        )  # fmt: skip
        self.status["observedGeneration"] = self.generation
        self.events("Warning", "Invalid", message)
        metrics.SEARCHES.labels("Invalid").inc()
        metrics.set_search_phase(self.namespace, self.name, "Invalid")
        await self.kube.patch_status(self.namespace, names.SEARCH_PLURAL, self.name, self.status)

    def _edited(self, current: Obj, accepted: Obj) -> bool:
        """Whether the spec differs from the one the search started with, defaults filled in on
        both sides: the API server fills a newer CRD's defaults into the stored spec when it is
        read, never into ``status.acceptedSpec``, so an upgrade alone is no edit."""
        filled = [apply_defaults(self._document(spec))["spec"] for spec in (current, accepted)]
        return spec_digest(filled[0]) != spec_digest(filled[1])

    async def _reject_edit(self) -> None:
        message = (
            "spec edits after the search started are not applied (the running search keeps "
            "its original spec); create a new HyperSearch instead"
        )
        self.status["conditions"] = set_condition(
            self.status.get("conditions") or [], "SpecChangeRejected", True, "Immutable",
            message, self.generation,
        )  # fmt: skip
        self.events("Warning", "SpecChangeRejected", message)

    def _start_action(self, trial_id: int) -> StartTrial:
        """The StartTrial of an existing trial (to rebuild its children)."""
        assert self.search is not None and self.spec is not None
        t = self.search.trials[trial_id]
        return start_action(self.spec, t)

    # ----------------------------------------------------------------- persistence

    async def persist_trial(self, tid: int, force: bool = False, flush: bool = False) -> None:
        assert self.search is not None
        trial = self.search.trials[tid]

        async def recreate() -> bool:
            """Deleted by hand: put the record back so the search stays resumable."""
            self.events("Warning", "Recreated", f"Trial {trial.name} was deleted; recreating it")
            body = trial_resource(self.body, self._start_action(tid), trial.source)
            try:
                await self.children.create(body, check=False)
            except ChildRefused as e:
                log.warning("%s/%s: %s", self.namespace, self.name, e)
                return False
            return True

        sumcount = self.monitor.sumcount(tid, trial.windows.keys()) if self.monitor else None
        await self.writer.trial(
            trial, self.pods.get(tid), recreate, force=force, flush=flush, sumcount=sumcount
        )

    async def persist_search(self, force: bool = False) -> None:
        assert self.search is not None
        self.status = search_status(self.search, self.status, self.pods, self.now, self.generation)
        await self.writer.search(self.status, force=force)

    async def persist(self, force: bool = False) -> None:
        """Write every changed trial record, then the search status."""
        assert self.search is not None
        await asyncio.gather(*(self.persist_trial(t.id, flush=force) for t in self.search.trials))
        await self.persist_search(force=force)


__all__ = ["FINAL_PHASES", "EventSink", "Options", "SearchBase", "plain"]
