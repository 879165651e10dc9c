"""The status writer: decisions at once, progress throttled without even building the status."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from hypersearch.engine import Search
from hypersearch.engine.observations import WindowStat
from hypersearch.engine.trial import Trial, TrialState
from hypersearch.kube import status as status_module
from hypersearch.kube.state import engine_block
from hypersearch.kube.status import PERSIST_WINDOWS, StatusWriter
from hypersearch.spec import parse
from hypersearch.spec.model import DataRange

from tests.operator.conftest import tiny_search


class FakeKube:
    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []

    async def patch_status(self, namespace: str, plural: str, name: str, body: Any) -> bool:
        self.patches.append(body)
        return True


async def _never() -> bool:
    raise AssertionError("not deleted: nothing to recreate")


def test_progress_is_throttled_unbuilt_and_decisions_or_many_windows_are_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[int] = []
    real = status_module.trial_status  # type: ignore[attr-defined]

    def counting(trial: Trial, *args: Any) -> Any:
        built.append(trial.id)
        return real(trial, *args)

    monkeypatch.setattr(status_module, "trial_status", counting)
    kube = FakeKube()
    writer = StatusWriter(kube, "ns", "s", progress_seconds=1e9)  # type: ignore[arg-type]
    trial = Trial(id=0, name="s-000", stage=1, params={"x": 1.0}, data=DataRange(0, 100))

    def write(**kw: Any) -> None:
        asyncio.run(writer.trial(trial, None, _never, **kw))

    write()
    assert len(kube.patches) == 1 and len(built) == 1
    trial.position, trial.windows[0] = 1.0, WindowStat(0.5, 10.0)
    write()  # progress only, within the throttle: neither built nor written
    assert len(kube.patches) == 1 and len(built) == 1
    write(flush=True)  # flushed: written
    assert len(kube.patches) == 2
    write(flush=True)  # nothing changed: built, compared, not written
    assert len(kube.patches) == 2
    for w in range(1, PERSIST_WINDOWS + 1):
        trial.windows[w] = WindowStat(0.5, 10.0)
    write()  # PERSIST_WINDOWS windows behind: written despite the throttle
    assert len(kube.patches) == 3
    trial.state, trial.reason = TrialState.STOPPED, "stopped at a rung"
    write()  # a decision: at once
    assert len(kube.patches) == 4 and kube.patches[-1]["state"] == "Stopped"


def test_the_engine_block_is_the_engine_state_less_its_trials() -> None:
    doc = tiny_search("block")
    search = Search(parse(doc))
    search.step()
    state = search.to_state()
    assert engine_block(search) == {
        k: v for k, v in state.items() if k not in ("trials", "version")
    }


def test_progress_writes_of_trials_started_together_are_spread_over_the_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(status_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    kube = FakeKube()
    writer = StatusWriter(kube, "ns", "s", progress_seconds=30)  # type: ignore[arg-type]
    trials = [
        Trial(id=i, name=f"s-{i:03d}", stage=1, params={"x": 1.0}, data=DataRange(0, 100))
        for i in range(300)
    ]

    async def round_() -> int:
        before = len(kube.patches)
        await asyncio.gather(*(writer.trial(t, None, _never) for t in trials))
        return len(kube.patches) - before

    assert asyncio.run(round_()) == 300  # all written together at first
    per_round = []
    for step in range(1, 10):  # 10 s rounds, every trial's position moving
        clock[0] += 10
        for t in trials:
            t.position = float(step)
        per_round.append(asyncio.run(round_()))
    assert sum(per_round) == 900  # once per 30 s each
    assert max(per_round) <= 110  # about a third each round, not all of them every third
