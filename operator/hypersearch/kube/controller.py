"""One search's control loop: the engine's actions applied to Trial resources, Pods and Jobs.

Each round lists the search's pods (and stage-2 workloads), turns pod endings into
``finished`` calls, scrapes every running trial concurrently, feeds the batch to
``observe_all``, applies the resulting actions and persists what changed. Order matters for
restart safety: a Trial resource (the record) exists before its pod, search-level decisions
are written before the children they create, and every name is deterministic, so a repeated
create after a crash is a harmless 409.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from kubernetes.client.exceptions import ApiException

from hypersearch.engine import (
    Finish,
    ReuseRun,
    Search,
    StartTrial,
    StopTrial,
    TrialState,
)
from hypersearch.engine.actions import Action
from hypersearch.engine.planner import trial_env
from hypersearch.kube import metrics, names, trail
from hypersearch.kube.api import ForeignObject, Kube, owned_by
from hypersearch.kube.conditions import set_condition
from hypersearch.kube.resources import (
    TemplateError,
    trial_pod,
    trial_resource,
    workload,
)
from hypersearch.kube.state import (
    engine_block,
    pod_ledgers,
    restore,
    spec_digest,
    trial_status,
)
from hypersearch.kube.usage import PodUse, resource_seconds, trial_compute, update
from hypersearch.monitor import HealthPolicy, Monitor
from hypersearch.scrape import ScrapeError, metrics_url
from hypersearch.spec import SpecInvalid, check, parse
from hypersearch.spec.model import SearchSpec
from hypersearch.spec.safety import (
    DEFAULT_WORKLOAD_KINDS,
    Admission,
    object_errors,
    safety_errors,
)

Obj = dict[str, Any]
log = logging.getLogger("hypersearch.operator")
FINAL_PHASES = ("Succeeded", "Failed", "Invalid")


class EventSink(Protocol):
    def __call__(self, type_: str, reason: str, message: str) -> None: ...


@dataclass
class Options:
    """Operator-wide knobs (flags of ``hypersearch operator``)."""

    startup_grace: float = 90.0  # a pod's endpoint may stay silent this long after it runs
    hang_seconds: float = 600.0  # a trial whose position does not move this long has hung
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


def pod_failure(pod: Obj) -> str:
    """Why a pod failed, from its container statuses, as a person would want it."""
    status = pod.get("status") or {}
    for cs in status.get("containerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated") or {}
        if term:
            text = f"pod failed: container {cs.get('name')} exited with code {term.get('exitCode')}"
            extra = term.get("message") or term.get("reason")
            return f"{text} ({extra})" if extra else text
    return f"pod failed: {status.get('reason') or ''} {status.get('message') or ''}".strip()


def _trial_id(resource: Obj) -> int:
    try:
        return int((resource.get("spec") or {})["id"])
    except (KeyError, TypeError, ValueError):
        return -1


def condition_true(obj: Obj, type_: str) -> Obj | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_ and c.get("status") == "True":
            return dict(c)
    return None


class SearchController:
    """Drives one HyperSearch until it succeeds, fails, or the operator stops."""

    def __init__(
        self,
        kube: Kube,
        body: Obj,
        events: EventSink,
        options: Options | None = None,
    ) -> None:
        self.kube = kube
        self.body = plain(body)
        self.name: str = self.body["metadata"]["name"]
        self.uid: str = self.body["metadata"].get("uid") or ""
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
        self.foreign: set[int] = set()  # trials whose Trial name a stranger's object holds
        self._written: dict[int, tuple[str, str, float]] = {}  # material key, full json, time
        self._status_json = ""
        self._pending_failures: list[tuple[int, str]] = []
        self.rounds = 0
        self.resumed = False
        # Each trial's pods: requests and lifetimes (persisted in the Trial status).
        self.pods: dict[int, dict[str, PodUse]] = {}
        self.now = time.time()  # wall clock of this round (pod timestamps are wall clock)
        self._listed_at: float | None = None  # when pods were last listed

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
        self.health = HealthPolicy(
            startup_seconds=self.options.startup_grace,
            max_failures=self.spec.metrics.max_failures,
            progress_seconds=self.options.hang_seconds,
        )
        namespace = await self.kube.get_namespace(self.namespace)
        self.admission = Admission.for_namespace(namespace, self.options.workload_kinds)
        unsafe = safety_errors(self.spec, self.admission)
        if unsafe:
            await self._invalid("; ".join(str(e) for e in sorted(unsafe)))
            return False
        if accepted is not None and spec_digest(current) != spec_digest(accepted):
            await self._reject_edit()
        listed = await self.kube.list(
            self.namespace, names.API_VERSION, names.TRIAL_KIND, names.search_selector(self.name)
        )
        # Only this search's own Trials: not a deleted namesake's, nor a forged one (whose id
        # could make the engine allocate that many records).
        most = self.spec.trials + self.spec.top_k
        resources = [r for r in listed if owned_by(r, self.uid) and _trial_id(r) in range(most)]
        self.search = restore(self.spec, self.status, resources)
        self.pods = pod_ledgers(resources)
        stored = {int(r["spec"]["id"]) for r in resources if (r.get("status") or {}).get("record")}
        for trial in self.search.trials:  # what the cluster holds now: no need to rewrite
            if trial.id not in stored:
                continue
            self._written[trial.id] = (
                self._material(trial),
                json.dumps(trial_status(trial, self.pods.get(trial.id)), sort_keys=True),
                time.monotonic(),
            )
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

    # ----------------------------------------------------------------- the loop

    async def run(
        self, stopped: Callable[[], bool], sleep: Callable[[float], Awaitable[Any]]
    ) -> None:
        """Load, then run rounds every scrape interval until the search ends or ``stopped()``."""
        if not await self.load():
            return
        assert self.spec is not None and self.search is not None
        metrics.SEARCHES.labels("Running").inc()
        try:
            async with aiohttp.ClientSession() as session:
                while not stopped() and self.search.phase == "Running":
                    started = time.monotonic()
                    await self.round(session)
                    metrics.ROUND_SECONDS.observe(time.monotonic() - started)
                    if self.search.phase != "Running":
                        break
                    # Fixed-rate rounds: a slow round does not stretch the scrape interval.
                    elapsed = time.monotonic() - started
                    await sleep(max(0.05, self.spec.metrics.interval_seconds - elapsed))
        finally:
            metrics.SEARCHES.labels("Running").dec()
            if self.search.phase in FINAL_PHASES:
                metrics.SEARCHES.labels(self.search.phase).inc()

    async def round(self, session: aiohttp.ClientSession) -> None:
        assert self.search is not None and self.spec is not None
        self.rounds += 1
        await self.apply(self.search.step())
        if self.search.phase != "Running":
            await self.persist()
            return
        workloads: dict[str, Obj] = {}
        if self.search.stage == 2:
            w = self.spec.workload
            for obj in await self.kube.list(
                self.namespace, w.api_version, w.kind, names.search_selector(self.name)
            ):
                if owned_by(obj, self.uid):
                    workloads[obj["metadata"]["name"]] = obj
        # Pods this search or its workloads own: a stranger's pod carrying our labels is never
        # scraped, counted or deleted.
        owners = {self.uid} | {w["metadata"].get("uid") for w in workloads.values()}
        pods = await self.kube.list(self.namespace, "v1", "Pod", names.search_selector(self.name))
        by_trial: dict[str, list[Obj]] = {}
        for p in pods:
            if not any(owned_by(p, uid) for uid in owners if uid):
                continue
            trial_label = ((p.get("metadata") or {}).get("labels") or {}).get(names.LABEL_TRIAL)
            if trial_label:
                by_trial.setdefault(trial_label, []).append(p)
        self.account(by_trial)
        targets = await self.reconcile(by_trial, workloads)
        await self.scrape(session, targets)
        self.check_health()
        await self.apply(self.search.step())
        await self.persist()

    def account(self, by_trial: dict[str, list[Obj]]) -> None:
        """Fold this round's pods into each trial's ledger; a trial whose trainer exports no
        compute counters gets its pods' running time x requests (``pod-requests``)."""
        assert self.search is not None
        self.now = time.time()
        gone_at = self._listed_at if self._listed_at is not None else self.now
        self._listed_at = self.now
        for trial in self.search.trials:
            pods = by_trial.get(trial.name, [])
            if not pods and trial.id not in self.pods:
                continue
            ledger = self.pods.setdefault(trial.id, {})
            update(ledger, pods, self.now, gone_at)
            compute = trial_compute(ledger, self.now)
            if compute is not None:
                self.search.record_compute(trial.id, *compute, source="pod-requests")

    # ----------------------------------------------------------------- children

    async def reconcile(
        self, by_trial: dict[str, list[Obj]], workloads: dict[str, Obj]
    ) -> dict[int, str]:
        """Pod and workload endings become ``finished`` calls; returns scrape URLs of the rest."""
        assert self.search is not None and self.spec is not None and self.monitor is not None
        m = self.spec.metrics
        targets: dict[int, str] = {}
        now = time.monotonic()
        for trial in list(self.search.trials):
            if trial.state is not TrialState.RUNNING or self.search.phase != "Running":
                continue
            pods = [
                p
                for p in by_trial.get(trial.name, [])
                if not p["metadata"].get("deletionTimestamp")
            ]
            if trial.stage == 2:
                obj = workloads.get(trial.name)
                if obj is None:
                    await self._recreate(trial.id, "its full-training workload disappeared")
                    continue
                if condition_true(obj, self.spec.workload.success_condition):
                    await self.apply(self.search.finished(trial.id, True))
                    continue
                failed = condition_true(obj, self.spec.workload.failure_condition)
                if failed:
                    why = f"workload failed: {failed.get('reason', '')} {failed.get('message', '')}"
                    await self._failed(trial.id, why.strip())
                    continue
            else:
                if not pods:
                    if by_trial.get(trial.name):
                        continue  # being deleted by someone; recreate once it is gone
                    await self._recreate(
                        trial.id,
                        "its pod was missing when this replica took over"
                        if self.rounds == 1 and self.resumed
                        else "its pod was deleted by someone else",
                    )
                    continue
                phase = (pods[0].get("status") or {}).get("phase")
                if phase == "Failed":
                    await self._failed(trial.id, pod_failure(pods[0]))
                    continue
                if phase == "Succeeded":
                    await self.apply(self.search.finished(trial.id, True))
                    continue
            running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
            ip = (running[0].get("status") or {}).get("podIP") if running else None
            if not ip:
                continue
            try:
                url = metrics_url(ip, m.port, m.path)
            except ScrapeError as e:
                self._pending_failures.append((trial.id, str(e)))
                continue
            watch = self.monitor.watch(trial.id, url, now)
            if not watch.done or trial.stage == 2:
                targets[trial.id] = url
        return targets

    async def _failed(self, trial_id: int, why: str) -> None:
        """A trial's pod or workload ended in failure on its own."""
        assert self.search is not None
        self.events(*trail.failed(self.search.trials[trial_id].name, why))
        metrics.FAILURES.labels(self.namespace, self.name).inc()
        await self.apply(self.search.finished(trial_id, False, why))

    async def _recreate(self, trial_id: int, why: str) -> None:
        assert self.search is not None and self.spec is not None
        trial = self.search.trials[trial_id]
        count = self.recreated.get(trial_id, 0) + 1
        self.recreated[trial_id] = count
        if count > self.options.max_pod_recreations:
            reason = f"{why}, {count - 1} times; giving up"
            self.events(*trail.failed(trial.name, reason))
            await self.apply(self.search.finished(trial_id, False, reason))
            return
        self.events("Warning", "Recreated", f"{trial.name}: {why}; recreating it")
        if self.monitor is not None:
            self.monitor.forget(trial_id)
        await self._create_children(trial_id)

    def _start_action(self, trial_id: int) -> StartTrial:
        """The StartTrial of an existing trial (to rebuild its children)."""
        assert self.search is not None and self.spec is not None
        t = self.search.trials[trial_id]
        return StartTrial(t.id, t.name, t.stage, dict(t.params), t.data, trial_env(self.spec, t))

    async def _create_children(self, trial_id: int) -> None:
        assert self.search is not None and self.spec is not None
        trial = self.search.trials[trial_id]
        start = self._start_action(trial_id)
        if trial.stage == 1:
            body = trial_pod(self.spec, self.body, start)
        else:
            body = workload(self.spec, self.body, start)
        await self._create_or_fail(trial_id, body)

    async def _create_or_fail(self, trial_id: int, body: Obj) -> Obj | bool | None:
        """Create a child after the admission rules are checked again on the final object;
        False (and the trial failed, with one Event) when a rule or a stranger's object of the
        same name stands in the way."""
        assert self.search is not None
        problems = object_errors(body, self.admission)
        try:
            if problems:
                raise TemplateError("; ".join(str(e) for e in sorted(problems)))
            return await self.kube.create(self.namespace, body, self.uid)
        except (ForeignObject, TemplateError) as e:
            name = self.search.trials[trial_id].name
            why = f"{trail.COULD_NOT_START}: {e}"
            self.events(*trail.failed(name, why))
            metrics.FAILURES.labels(self.namespace, self.name).inc()
            await self.apply(self.search.finished(trial_id, False, why))
            return False

    # ----------------------------------------------------------------- scraping

    async def scrape(self, session: aiohttp.ClientSession, targets: dict[int, str]) -> None:
        """Scrape every target concurrently, then hand the batch to the engine at once."""
        assert self.search is not None and self.monitor is not None
        t0 = time.monotonic()
        rnd = await self.monitor.scrape(session, list(targets))
        metrics.SCRAPE_SECONDS.observe(time.monotonic() - t0)
        metrics.SCRAPES.labels("ok").inc(len(rnd.reports))
        metrics.SCRAPES.labels("error").inc(len(targets) - len(rnd.reports))
        self._pending_failures += rnd.broken
        await self.apply(self.search.observe_all(rnd.reports), seen=rnd.seen_at)
        for tid in rnd.done:
            trial = self.search.trials[tid]
            if trial.stage == 1 and trial.state is TrialState.RUNNING:
                # It lingers only to be scraped: account it now and let its pod go.
                await self.apply(self.search.finished(tid, True))
                await self.kube.delete(self.namespace, "v1", "Pod", trial.name, self.uid)

    def check_health(self) -> None:
        """Queue a failure for each running trial the health policy condemns (by time: start-up,
        failing scrapes, no progress); their pods are deleted by ``apply``."""
        assert self.search is not None and self.monitor is not None and self.health is not None
        now = time.monotonic()
        for tid, watch in list(self.monitor.watches.items()):
            if self.search.trials[tid].state is not TrialState.RUNNING:
                continue
            reason = self.health.verdict(watch, now, self.spec.window_name)  # type: ignore[union-attr]
            if reason:
                self._pending_failures.append((tid, reason))
                watch.done = True  # queued once

    # ----------------------------------------------------------------- actions

    async def apply(self, actions: list[Action], seen: float | None = None) -> None:
        """Apply engine actions; search-level decisions are persisted before any child."""
        assert self.search is not None and self.spec is not None
        queue = list(actions)
        while self._pending_failures:
            tid, reason = self._pending_failures.pop(0)
            trial = self.search.trials[tid]
            self.events(*trail.failed(trial.name, reason))
            metrics.FAILURES.labels(self.namespace, self.name).inc()
            queue += self.search.finished(tid, False, reason)
            await self._delete_child(tid)
        if not queue:
            return
        finishes = [a for a in queue if isinstance(a, Finish)]
        for f in finishes:
            self._finish_conditions(f)
        if finishes:
            await self.persist(force=True)  # every trial record first, then the final phase
        else:
            await self.persist_search()
        starts = [a for a in queue if isinstance(a, StartTrial)]
        for i in range(0, len(starts), 16):
            await asyncio.gather(*(self._start(a) for a in starts[i : i + 16]))
        for a in queue:
            if isinstance(a, ReuseRun):
                await self._reuse(a)
        # Many losers cross the same rung in one round: stop them concurrently.
        stops = [a for a in queue if isinstance(a, StopTrial)]
        for i in range(0, len(stops), 32):
            await asyncio.gather(*(self._stop(a, seen) for a in stops[i : i + 32]))
        for a in queue:
            if isinstance(a, Finish):
                await self._finish(a)

    async def _create_record(self, trial_id: int, body: Obj) -> bool:
        """Create a Trial resource; False (trial failed, nothing written to the stranger's
        object) when a Trial of that name exists and is not this search's."""
        assert self.search is not None
        try:
            await self.kube.create(self.namespace, body, self.uid)
            return True
        except ForeignObject as e:
            self.foreign.add(trial_id)
            why = f"{trail.COULD_NOT_START}: {e}"
            self.events(*trail.failed(self.search.trials[trial_id].name, why))
            metrics.FAILURES.labels(self.namespace, self.name).inc()
            await self.apply(self.search.finished(trial_id, False, why))
            return False

    async def _start(self, a: StartTrial) -> None:
        assert self.search is not None and self.spec is not None
        trial = self.search.trials[a.trial]
        if not await self._create_record(a.trial, trial_resource(self.body, a, trial.source)):
            return
        await self.persist_trial(a.trial, force=True)
        try:
            body = (
                trial_pod(self.spec, self.body, a)
                if a.stage == 1
                else workload(self.spec, self.body, a)
            )
        except TemplateError as e:
            why = f"{trail.COULD_NOT_START}: {e}"
            self.events(*trail.failed(a.name, why))
            await self.apply(self.search.finished(a.trial, False, why))
            return
        created = await self._create_or_fail(a.trial, body)
        if created is False:
            return
        if a.stage == 2:
            self.events(*trail.promoted(a.name, self.search.trials[trial.source or 0].name))
        elif created is not None:
            self.events(*trail.started(a.name, a.params))

    async def _reuse(self, a: ReuseRun) -> None:
        """Record a stage-2 trial whose stage-1 run already was the full run: no workload."""
        body = trial_resource(self.body, self._start_action(a.trial), a.source)
        if not await self._create_record(a.trial, body):
            return
        await self.persist_trial(a.trial, force=True)
        self.events(*trail.reused(a.name, a.reason))

    async def _delete_child(self, tid: int) -> None:
        assert self.search is not None and self.spec is not None
        if self.monitor is not None:
            self.monitor.forget(tid)
        trial = self.search.trials[tid]
        if trial.stage == 1:
            await self.kube.delete(self.namespace, "v1", "Pod", trial.name, self.uid)
        else:
            w = self.spec.workload
            await self.kube.delete(self.namespace, w.api_version, w.kind, trial.name, self.uid)

    async def _stop(self, a: StopTrial, seen: float | None) -> None:
        await self.persist_trial(a.trial, force=True)
        await self._delete_child(a.trial)
        if seen is not None:
            metrics.STOP_LATENCY.observe(time.monotonic() - seen)
        if a.failed:
            metrics.FAILURES.labels(self.namespace, self.name).inc()
            self.events(*trail.failed(a.name, a.reason))
        else:
            metrics.STOPS.labels(self.namespace, self.name).inc()
            self.events(*trail.stopped(a.name, a.reason))

    def _finish_conditions(self, a: Finish) -> None:
        kind = "Succeeded" if a.succeeded else "Failed"
        self.status["conditions"] = set_condition(
            self.status.get("conditions") or [], "Running", False, kind, a.reason, self.generation
        )
        self.status["conditions"] = set_condition(
            self.status["conditions"], kind, True, kind, a.reason, self.generation
        )

    async def _finish(self, a: Finish) -> None:
        kind = "Succeeded" if a.succeeded else "Failed"
        self.events("Normal" if a.succeeded else "Warning", kind, a.reason)
        await self.persist(force=True)

    # ----------------------------------------------------------------- persistence

    @staticmethod
    def _material(trial: Any) -> str:
        """What must reach the cluster at once: decisions. New windows and progress are
        written at most every ``progress_persist_seconds``; after a restart the trainers'
        endpoints serve every window again."""
        return json.dumps(
            [trial.state.value, trial.reason, trial.next_check, trial.predicted, trial.final]
        )

    async def persist_trial(self, tid: int, force: bool = False, flush: bool = False) -> None:
        """Write a trial's record when it changed (progress-only changes are throttled unless
        ``flush``: the last writes of a search leave every record as the engine has it)."""
        assert self.search is not None
        if tid in self.foreign:
            return  # its name belongs to someone else's Trial: nothing of ours to write
        trial = self.search.trials[tid]
        status = trial_status(trial, self.pods.get(tid))
        full = json.dumps(status, sort_keys=True)
        material = self._material(trial)
        now = time.monotonic()
        last = self._written.get(tid)
        if last is not None and not force:
            if last[1] == full:
                return
            throttled = now - last[2] < self.options.progress_persist_seconds
            if last[0] == material and throttled and not flush:
                return
        ok = await self.kube.patch_status(self.namespace, names.TRIAL_PLURAL, trial.name, status)
        if not ok:
            # Deleted by hand: put the record back so the search stays resumable.
            self.events("Warning", "Recreated", f"Trial {trial.name} was deleted; recreating it")
            start = self._start_action(trial.id)
            body = trial_resource(self.body, start, trial.source)
            try:
                await self.kube.create(self.namespace, body, self.uid)
            except ForeignObject as e:
                log.warning("%s/%s: %s", self.namespace, self.name, e)
                self.foreign.add(tid)
                return
            await self.kube.patch_status(self.namespace, names.TRIAL_PLURAL, trial.name, status)
        self._written[tid] = (material, full, now)
        if trial.predicted is not None:
            metrics.PREDICTED.labels(self.namespace, self.name, trial.name).set(trial.predicted)
        if trial.final is not None:
            metrics.OBSERVED.labels(self.namespace, self.name, trial.name).set(trial.final)

    def search_status(self) -> Obj:
        assert self.search is not None
        summary = self.search.summary()
        status = dict(self.status)
        status.update(summary)
        cost = status["cost"]
        # Requests x lifetime of every pod the search had (Pending and image pulls included).
        cost["resourceSeconds"] = resource_seconds(self.pods.values(), self.now)
        # The status is merge-patched: a source no trial uses any more must be nulled to go.
        before = (self.status.get("cost") or {}).get("computeSource") or {}
        sources = cost["computeSource"]
        cost["computeSource"] = {**dict.fromkeys(before), **sources}
        status["engine"] = engine_block(self.search)
        status["observedGeneration"] = self.generation
        winners = []
        for t in self.search.trials:
            if t.stage == 2:
                winners.append({
                    "trial": t.name, "source": self.search.trials[t.source or 0].name,
                    "params": dict(t.params), "state": t.state.value,
                    "predicted": self.search.trials[t.source or 0].predicted,
                    "final": t.final, "reason": t.reason,
                })  # fmt: skip
        status["winners"] = winners
        return status

    async def persist_search(self, force: bool = False) -> None:
        assert self.search is not None
        status = self.search_status()
        text = json.dumps(status, sort_keys=True, default=str)
        if text == self._status_json and not force:
            return
        self.status = status
        self._status_json = text
        await self.kube.patch_status(self.namespace, names.SEARCH_PLURAL, self.name, status)
        self._export(status)

    def _export(self, status: Obj) -> None:
        if status.get("phase"):
            metrics.set_search_phase(self.namespace, self.name, status["phase"])
        for state, count in (status.get("trials") or {}).items():
            if state != "total":
                metrics.TRIALS.labels(self.namespace, self.name, state).set(count)
        metrics.export_cost(self.namespace, self.name, status.get("cost") or {})

    async def persist(self, force: bool = False) -> None:
        """Write every changed trial record, then the search status."""
        assert self.search is not None
        await asyncio.gather(*(self.persist_trial(t.id, flush=force) for t in self.search.trials))
        await self.persist_search(force=force)


__all__ = ["EventSink", "Options", "SearchController", "plain"]
