"""One search's control loop: the engine's actions applied to Trial resources, Pods and Jobs.

Each round reads the search's pods (from the operator's pod index; stage-2 workloads by a
LIST), turns pod endings and pods stuck Pending into ``finished`` calls (and deletes pods left
running for ended trials), scrapes every running trial concurrently, feeds the batch to
``observe_all``, applies the resulting actions and persists what changed. Order matters for
restart safety: a Trial resource (the record) exists before its pod, search-level decisions
are written before the children they create, and every name is deterministic, so a repeated
create after a crash is a 409 on an object the search already owns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import urllib3
from kubernetes.client.exceptions import ApiException

from hypersearch.engine import (
    Finish,
    ReuseRun,
    StartTrial,
    StopTrial,
    Trial,
    TrialState,
)
from hypersearch.engine.actions import Action
from hypersearch.kube import metrics, names, trail
from hypersearch.kube.api import owned_by, refusal, retryable
from hypersearch.kube.children import ChildRefused
from hypersearch.kube.conditions import set_condition
from hypersearch.kube.loading import FINAL_PHASES, EventSink, Options, SearchBase, plain
from hypersearch.kube.podstatus import condition_true, pending_reason, pod_failure
from hypersearch.kube.resources import (
    TemplateError,
    trial_pod,
    trial_resource,
    workload,
)
from hypersearch.kube.status import search_status
from hypersearch.kube.usage import trial_compute, update
from hypersearch.monitor.health import WORKLOAD, deadline_of
from hypersearch.scrape import ScrapeError, metrics_url

Obj = dict[str, Any]
# Errors of a request that never got an answer (the client's own retries spent).
TRANSIENT = (urllib3.exceptions.HTTPError, OSError, asyncio.TimeoutError)
log = logging.getLogger("hypersearch.operator")
# Seconds a newly created pod may take to reach the operator's pod index (a watch).
INDEX_LAG = 30.0


class SearchController(SearchBase):
    """Drives one HyperSearch until it succeeds, fails, or the operator stops."""

    # ----------------------------------------------------------------- the loop

    async def run(
        self, stopped: Callable[[], bool], sleep: Callable[[float], Awaitable[Any]]
    ) -> None:
        """Load, then run rounds every scrape interval until the search ends or ``stopped()``."""
        try:
            loaded = await self.load()
        except ApiException as e:
            if retryable(e):
                raise  # Kopf starts the daemon again after its backoff
            await self._refused(e)
            return
        if not loaded:
            if self.status.get("phase") in ("Succeeded", "Failed"):
                try:
                    await self.sweep(stopped, sleep)
                except ApiException as e:
                    if retryable(e):
                        raise  # Kopf starts the daemon again after its backoff
                    log.error(
                        "%s/%s: %s",
                        self.namespace,
                        self.name,
                        refusal(e, "clean-up", "of the finished search"),
                    )
            return
        assert self.spec is not None and self.search is not None
        metrics.SEARCHES.labels("Running").inc()
        try:
            async with aiohttp.ClientSession() as session:
                while not stopped() and self.search.phase == "Running":
                    started = time.monotonic()
                    try:
                        await self.round(session)
                        self._trouble_since = None
                    except ApiException as e:
                        if not retryable(e) and e.status != 409:  # a conflict: next round
                            await self._refused(e)
                            break
                        self._trouble(f"{e.status} {e.reason}")
                    except TRANSIENT as e:
                        self._trouble(f"{type(e).__name__}: {str(e)[:200]}")
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
        if self.search.phase in FINAL_PHASES:
            await self.drain(stopped, sleep)

    def _trouble(self, what: str) -> None:
        """The API server did not answer a round (after the client's retries): the next round
        tries again; one Warning per outage, not one per round."""
        log.warning(
            "%s/%s: round interrupted by the API server: %s", self.namespace, self.name, what
        )
        if self._trouble_since is None:
            self._trouble_since = time.monotonic()
            self.events(
                "Warning",
                "APIUnavailable",
                f"the API server did not answer ({what}); retrying every round until it does",
            )

    async def _refused(self, e: ApiException) -> None:
        """A request the search needs was refused for good (a 4xx other than 409/429: missing
        RBAC, a policy or quota denial): the search fails with one Event naming the refusal, its
        running children are deleted, and nothing is retried (no Kopf retry loop)."""
        why = refusal(e, "request", "of this search")
        log.error("%s/%s: %s", self.namespace, self.name, why)
        actions = self.search.abort(why) if self.search is not None else []
        for a in actions:
            if isinstance(a, StopTrial):
                try:
                    await self._delete_child(a.trial)
                except ApiException as again:
                    log.error("%s: cannot delete %s: %s", self.name, a.name, again.reason)
        if self.search is not None:
            self.status = search_status(
                self.search, self.status, self.pods, self.now, self.generation
            )
        self.status["phase"] = "Failed"
        self.status["reason"] = why
        self._finish_conditions(Finish(False, why))
        self.events("Warning", "Failed", why)
        metrics.set_search_phase(self.namespace, self.name, "Failed")
        try:
            await self.kube.patch_status(
                self.namespace, names.SEARCH_PLURAL, self.name, self.status
            )
        except ApiException as again:
            log.error("%s/%s: cannot record the failure: %s", self.namespace, self.name, again)

    async def drain(
        self, stopped: Callable[[], bool], sleep: Callable[[float], Awaitable[Any]]
    ) -> None:
        """After the search ends, wait for the pods it deleted to go, force-deleting any that a
        lost node holds past the Terminating deadline: none outlives the search for ever."""
        assert self.health is not None
        interval = self.spec.metrics.interval_seconds if self.spec is not None else 10.0
        give_up = time.monotonic() + self.health.terminating_seconds + 900  # grace periods
        # The pods this replica deleted, by trial: the pod index may not show their deletion
        # yet (its watch lags the DELETE under load), so wait for them by name, not only for
        # pods already marked terminating.
        trials = self.search.trials if self.search is not None else []
        deleted = {trials[tid].name for tid in self.cleaned} | self.swept
        while not stopped() and time.monotonic() < give_up:
            ours, owners = await self._our_pods()
            terminating = [
                p
                for p in ours
                if p["metadata"].get("deletionTimestamp")
                or (p["metadata"].get("labels") or {}).get(names.LABEL_TRIAL) in deleted
            ]
            if not terminating:
                return
            self.now = time.time()
            try:
                await self._force_delete_stuck(terminating, owners)
            except ApiException as e:  # e.g. no RBAC to delete: nothing this loop can do
                log.error("%s/%s: cannot force-delete: %s", self.namespace, self.name, e.reason)
                return
            await sleep(interval)

    async def sweep(
        self, stopped: Callable[[], bool], sleep: Callable[[float], Awaitable[Any]]
    ) -> None:
        """A search that ended while children still ran (the operator stopped between writing
        the final phase and deleting them): delete each live trial pod and unfinished workload
        it owns, with one Event each, then wait for them to go as :meth:`drain` does."""
        self.spec_for_cleanup()
        phase = self.status.get("phase")
        workloads: dict[str, Obj] = {}
        if self.spec is not None:
            w = self.spec.workload
            listed = await self.kube.list(
                self.namespace, w.api_version, w.kind, names.search_selector(self.name)
            )
            workloads = {o["metadata"]["name"]: o for o in listed if owned_by(o, self.uid)}
            for name, obj in workloads.items():
                ended = condition_true(obj, w.success_condition) or condition_true(
                    obj, w.failure_condition
                )
                if ended or obj["metadata"].get("deletionTimestamp"):
                    continue
                self.events("Normal", "Cleanup", f"{name}: deleting its {w.kind} (search {phase})")
                await self.kube.delete(self.namespace, w.api_version, w.kind, name, self.uid)
                self.swept.add(name)
        ours, _ = await self._our_pods(workloads)
        for pod in ours:
            meta = pod["metadata"]
            live = (pod.get("status") or {}).get("phase") in ("Pending", "Running")
            if not live or meta.get("deletionTimestamp") or not owned_by(pod, self.uid):
                continue  # ended, already going, or a workload's (deleted with it)
            self.events("Normal", "Cleanup", f"{meta['name']}: deleting its pod (search {phase})")
            await self.kube.delete(self.namespace, "v1", "Pod", meta["name"], self.uid)
            self.swept.add((meta.get("labels") or {}).get(names.LABEL_TRIAL) or meta["name"])
        if self.swept:
            await self.drain(stopped, sleep)

    async def _our_pods(
        self, workloads: dict[str, Obj] | None = None
    ) -> tuple[list[Obj], set[str]]:
        """This search's pods and their possible owners' UIDs: the search's and its workloads'
        (a stranger's pod carrying our labels is never scraped, counted or deleted)."""
        self.owners |= {w["metadata"].get("uid") or "" for w in (workloads or {}).values()}
        if self.indexed_pods is not None:
            pods = self.indexed_pods()
        else:
            selector = names.search_selector(self.name)
            pods = await self.kube.list(self.namespace, "v1", "Pod", selector)
        ours = [p for p in pods if any(owned_by(p, uid) for uid in self.owners if uid)]
        return ours, self.owners

    async def round(self, session: aiohttp.ClientSession) -> None:
        assert self.search is not None and self.spec is not None
        self.rounds += 1
        await self.refresh_history()
        await self.apply(await asyncio.to_thread(self.search.step))
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
        ours, owners = await self._our_pods(workloads)
        by_trial: dict[str, list[Obj]] = {}
        for p in ours:
            trial_label = ((p.get("metadata") or {}).get("labels") or {}).get(names.LABEL_TRIAL)
            if trial_label:
                by_trial.setdefault(trial_label, []).append(p)
        self.account(by_trial)
        await self._force_delete_stuck(ours, owners)
        targets = await self.reconcile(by_trial, workloads)
        await self.scrape(session, targets)
        self.check_health()
        await self.refresh_history()
        await self.apply(await asyncio.to_thread(self.search.step))
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
            pods = [
                p
                for p in by_trial.get(trial.name, [])
                if not p["metadata"].get("deletionTimestamp")
            ]
            if trial.state is not TrialState.RUNNING or self.search.phase != "Running":
                await self._clean_up(trial, pods)
                continue
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
                late = self._workload_late(trial, obj, pods) or self._pending(pods)
                if late:
                    await self._failed(trial.id, late)
                    await self._delete_child(trial.id)
                    continue
            else:
                if not pods:
                    if by_trial.get(trial.name):
                        continue  # being deleted by someone; recreate once it is gone
                    if now - self.created_at.get(trial.id, -INDEX_LAG) < INDEX_LAG:
                        continue  # just created: the pod index may not have seen it yet
                    await self._recreate(
                        trial.id,
                        "its pod was missing when this replica took over"
                        if self.rounds == 1 and self.resumed
                        else "its pod was deleted by someone else",
                    )
                    continue
                phase = (pods[0].get("status") or {}).get("phase")
                stuck = self._pending(pods[:1])
                if stuck:
                    await self._failed(trial.id, stuck)
                    await self._delete_child(trial.id)
                    continue
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

    def _pending(self, pods: list[Obj]) -> str | None:
        """Why one of these pods, Pending past the deadline or hopeless, fails its trial."""
        assert self.health is not None
        for pod in pods:
            stuck = pending_reason(pod, self.now, self.health.pending_seconds)
            if stuck:
                return stuck
        return None

    def _workload_late(self, trial: Trial, obj: Obj, pods: list[Obj]) -> str | None:
        """A full-training workload of any kind that has created no pod within the Pending
        deadline, or whose trainer finished (or pods all ended) without the workload setting
        its success or failure condition within ``workloadConditionSeconds``."""
        assert self.health is not None and self.spec is not None and self.monitor is not None
        w = self.spec.workload
        what = f"{w.kind} {trial.name}"
        if not pods:
            self.idle_since.pop(trial.id, None)
            created = trail.timestamp(obj["metadata"].get("creationTimestamp"))
            # The pod index may lag its first pod by a few seconds.
            limit = max(self.health.pending_seconds, INDEX_LAG)
            if created is not None and self.now - created >= limit:
                return (
                    f"{WORKLOAD}: {what} has created no pod in {self.now - created:.0f}s "
                    f"(pendingSeconds={self.health.pending_seconds:g})"
                )
            return None
        watch = self.monitor.watches.get(trial.id)
        ended = all((p.get("status") or {}).get("phase") in ("Succeeded", "Failed") for p in pods)
        if not ended and not (watch is not None and watch.done):
            self.idle_since.pop(trial.id, None)
            return None
        now = time.monotonic()
        since = self.idle_since.setdefault(trial.id, now)
        if now - since < self.health.condition_seconds:
            return None
        return (
            f"{WORKLOAD}: {what}'s trainer finished or its pods ended {now - since:.0f}s ago, "
            f"but it set neither condition {w.success_condition} nor {w.failure_condition} "
            f"(workloadConditionSeconds={self.health.condition_seconds:g})"
        )

    async def _force_delete_stuck(self, pods: list[Obj], owners: set[str]) -> None:
        """Pods still terminating long after their grace period (their node is lost and will
        never confirm): delete them without waiting, once each, with an Event."""
        assert self.health is not None
        for pod in pods:
            meta = pod["metadata"]
            due = trail.timestamp(meta.get("deletionTimestamp"))
            if due is None or meta.get("uid") in self.forced:
                continue
            late = self.now - due
            if late < self.health.terminating_seconds:
                continue
            owner = next((uid for uid in owners if uid and owned_by(pod, uid)), "")
            await self.kube.delete(self.namespace, "v1", "Pod", meta["name"], owner, grace=0)
            self.forced.add(meta.get("uid"))  # after the delete: a failed one is tried again
            self.events(
                "Warning",
                "ForceDeleted",
                f"{meta['name']}: still terminating {late:.0f}s after its grace period ended "
                f"(terminatingSeconds={self.health.terminating_seconds:g}; its node may be lost); "
                "deleted it without waiting for the node",
            )

    async def _clean_up(self, trial: Trial, pods: list[Obj]) -> None:
        """A stopped or failed trial whose pod (or full-training workload's pods) still runs
        (an operator that crashed between recording the decision and deleting it): delete it,
        once per replica."""
        if trial.state is TrialState.COMPLETED or trial.id in self.cleaned:
            return
        live = [p for p in pods if (p.get("status") or {}).get("phase") in ("Pending", "Running")]
        if live:
            what = "pod" if trial.stage == 1 else self.spec.workload.kind  # type: ignore[union-attr]
            self.events(
                "Normal",
                "Cleanup",
                f"{trial.name}: deleting its {what} (trial {trial.state.value.lower()})",
            )
            await self._delete_child(trial.id)

    async def _failed(self, trial_id: int, why: str) -> None:
        """A trial's pod or workload ended in failure on its own."""
        assert self.search is not None
        self._announce_failure(self.search.trials[trial_id].name, why)
        await self.apply(self.search.finished(trial_id, False, why))

    def _announce_failure(self, name: str, why: str) -> None:
        """The one Event of a failed trial; a missed deadline also sets the search's
        ``DeadlineExceeded`` condition (its latest case; the Trial names its own)."""
        self.events(*trail.failed(name, why))
        metrics.FAILURES.labels(self.namespace, self.name).inc()
        code = deadline_of(why)
        if code:
            self.status["conditions"] = set_condition(
                self.status.get("conditions") or [],
                "DeadlineExceeded",
                True,
                code,
                f"{name}: {why}",
                self.generation,
            )

    async def _recreate(self, trial_id: int, why: str) -> None:
        assert self.search is not None and self.spec is not None
        trial = self.search.trials[trial_id]
        count = self.recreated.get(trial_id, 0) + 1
        self.recreated[trial_id] = count
        # Kept in the status: a restarted operator must not start counting from zero again.
        self.status.setdefault("recreations", {})[trial.name] = count
        if count > self.options.max_pod_recreations:
            reason = f"{why}, {count - 1} times; giving up"
            self._announce_failure(trial.name, reason)
            await self.apply(self.search.finished(trial_id, False, reason))
            return
        self.events("Warning", "Recreated", f"{trial.name}: {why}; recreating it")
        if self.monitor is not None:
            self.monitor.forget(trial_id)
        await self._create_children(trial_id)

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
        """Create a child; False (and the trial failed, with one Event) when a rule or a
        stranger's object of the same name stands in the way."""
        assert self.search is not None
        try:
            self.created_at[trial_id] = time.monotonic()
            return await self.children.create(body)
        except ChildRefused as e:
            name = self.search.trials[trial_id].name
            why = f"{trail.COULD_NOT_START}: {e}"
            self._announce_failure(name, why)
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
        # Engine work (fits, TPE draws) runs in a worker thread: the event loop keeps serving
        # Kopf and the other searches; this search awaits it, so nothing else touches it.
        actions = await asyncio.to_thread(self.search.observe_all, rnd.reports)
        await self.apply(actions, seen=rnd.seen_at)
        for tid in rnd.done:
            trial = self.search.trials[tid]
            if trial.stage == 1 and trial.state is TrialState.RUNNING:
                # It lingers only to be scraped: account it now and let its pod go.
                await self.apply(self.search.finished(tid, True))
                await self.children.delete(self.spec, trial)  # type: ignore[arg-type]

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
            self._announce_failure(trial.name, reason)
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
            await self.children.create(body, check=False)
            return True
        except ChildRefused as e:
            self.writer.foreign.add(trial_id)
            why = f"{trail.COULD_NOT_START}: {e}"
            self._announce_failure(self.search.trials[trial_id].name, why)
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
            self._announce_failure(a.name, why)
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
        self.cleaned.add(tid)  # this replica deleted it: nothing left to clean up
        await self.children.delete(self.spec, self.search.trials[tid])

    async def _stop(self, a: StopTrial, seen: float | None) -> None:
        await self.persist_trial(a.trial, force=True)
        await self._delete_child(a.trial)
        if seen is not None:
            metrics.STOP_LATENCY.observe(time.monotonic() - seen)
        if a.failed:
            self._announce_failure(a.name, a.reason)
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


__all__ = ["EventSink", "Options", "SearchController", "plain"]
