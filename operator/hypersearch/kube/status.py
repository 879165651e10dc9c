"""Writing a search's state to the cluster: each Trial's status, then the HyperSearch status.

Decisions reach the cluster at once (a restarted operator must not redo or undo them); progress
alone (new windows, position) is written once every ``progress_seconds`` (each trial at its own
point of that period, so that trials started together do not all write in one round), or as soon as
:data:`PERSIST_WINDOWS` windows arrived since the last write: after a restart the trainers serve
only their recent windows again (the reference trainer its last 64, ``HS_METRICS_WINDOWS``), so
the record must never fall further behind than that. Writes that would not change anything are
skipped.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from hypersearch.engine import Search, Trial
from hypersearch.kube import metrics, names
from hypersearch.kube.api import Kube
from hypersearch.kube.state import engine_block, trial_status
from hypersearch.kube.usage import PodUse, resource_seconds

Obj = dict[str, Any]
Ledgers = dict[int, dict[str, PodUse]]
# A trial's record is written once this many windows arrived since the last write, throttle or
# not. A quarter of the 64 windows the reference trainer serves: a restart then loses nothing
# unless about 48 more windows complete while no operator is running (at one window a second,
# most of a minute); a slower trainer is written every ``progress_seconds`` anyway.
PERSIST_WINDOWS = 16
GOLDEN = (math.sqrt(5) - 1) / 2  # spreads the trials' progress writes over the period


def material(trial: Trial) -> str:
    """What must reach the cluster at once: the trial's decisions."""
    return json.dumps(
        [trial.state.value, trial.reason, trial.next_check, trial.predicted, trial.final]
    )


def search_status(
    search: Search, previous: Obj, pods: Ledgers, now: float, generation: int | None
) -> Obj:
    """The HyperSearch status: ``previous`` (conditions, accepted spec...) with the engine's
    summary, cost (with requests x lifetime of every pod the search had), engine block and
    winners."""
    status = dict(previous)
    status.update(search.summary())
    cost = status["cost"]
    cost["resourceSeconds"] = resource_seconds(pods.values(), now)
    # The status is merge-patched: a source no trial uses any more must be nulled to go.
    before = (previous.get("cost") or {}).get("computeSource") or {}
    cost["computeSource"] = {**dict.fromkeys(before), **cost["computeSource"]}
    status["engine"] = engine_block(search)
    status["observedGeneration"] = generation
    status["winners"] = [
        {
            "trial": t.name,
            "source": search.trials[t.source or 0].name,
            "params": dict(t.params),
            "state": t.state.value,
            "predicted": search.trials[t.source or 0].predicted,
            "final": t.final,
            "reason": t.reason,
        }
        for t in search.trials
        if t.stage == 2
    ]
    return status


class StatusWriter:
    """One search's writes: what was last written of each Trial, and of the search."""

    def __init__(self, kube: Kube, namespace: str, name: str, progress_seconds: float) -> None:
        self.kube, self.namespace, self.name = kube, namespace, name
        self.progress_seconds = progress_seconds
        self._written: dict[int, tuple[str, str, float]] = {}  # material, full json, when
        self._windows: dict[int, int] = {}  # windows in each trial's last written record
        self._search_json = ""
        self.foreign: set[int] = set()  # trials whose Trial name a stranger's object holds

    def _progress_due(self, trial_id: int, last: float, now: float) -> bool:
        """Whether a progress-only change may be written: once per ``progress_seconds``, when
        the trial passes its own point of the period. The points are spread over the period
        (golden-ratio steps by trial id), so trials started together do not all write in the
        same round: 1,000 of them did, every third round, and that round took 14-17 s."""
        period = self.progress_seconds
        if period <= 0:
            return True
        phase = (trial_id * GOLDEN) % 1.0 * period
        return math.floor((now + phase) / period) > math.floor((last + phase) / period)

    def remember(
        self, trial: Trial, ledger: dict[str, PodUse] | None, sumcount: Obj | None = None
    ) -> None:
        """The cluster already holds this record (after a resume): no need to rewrite it."""
        full = json.dumps(trial_status(trial, ledger, sumcount), sort_keys=True)
        self._written[trial.id] = (material(trial), full, time.monotonic())
        self._windows[trial.id] = len(trial.windows)

    async def trial(
        self,
        trial: Trial,
        ledger: dict[str, PodUse] | None,
        recreate: Callable[[], Awaitable[bool]],
        force: bool = False,
        flush: bool = False,
        sumcount: Obj | None = None,
    ) -> None:
        """Write a trial's record when it changed (progress-only changes are throttled unless
        ``flush``); ``recreate`` puts back a Trial resource deleted by hand (False: a
        stranger's object holds the name, and nothing is written)."""
        if trial.id in self.foreign:
            return
        decided = material(trial)
        now = time.monotonic()
        last = self._written.get(trial.id)
        if last is not None and not force and not flush and last[0] == decided:
            behind = len(trial.windows) - self._windows.get(trial.id, 0) >= PERSIST_WINDOWS
            if not self._progress_due(trial.id, last[2], now) and not behind:
                return  # progress only, throttled: not even built (~2 ms at 365 windows)
        status = trial_status(trial, ledger, sumcount)
        full = json.dumps(status, sort_keys=True)
        if last is not None and not force and last[1] == full:
            return
        plural = names.TRIAL_PLURAL
        if not await self.kube.patch_status(self.namespace, plural, trial.name, status):
            if not await recreate():
                self.foreign.add(trial.id)
                return
            await self.kube.patch_status(self.namespace, plural, trial.name, status)
        self._written[trial.id] = (decided, full, now)
        self._windows[trial.id] = len(trial.windows)
        if trial.predicted is not None:
            metrics.PREDICTED.labels(self.namespace, self.name, trial.name).set(trial.predicted)
        if trial.final is not None:
            metrics.OBSERVED.labels(self.namespace, self.name, trial.name).set(trial.final)

    async def search(self, status: Obj, force: bool = False) -> bool:
        """Write the HyperSearch status if it changed; True when written."""
        text = json.dumps(status, sort_keys=True, default=str)
        if text == self._search_json and not force:
            return False
        self._search_json = text
        await self.kube.patch_status(self.namespace, names.SEARCH_PLURAL, self.name, status)
        metrics.export_status(self.namespace, self.name, status)
        return True


__all__ = ["PERSIST_WINDOWS", "StatusWriter", "material", "search_status"]
