"""Scraping running trials and turning what they serve into the engine's reports.

One implementation for both executors: each round the executor names the running trials and
their metrics URLs; :meth:`Monitor.scrape` reads them concurrently (bounded in time, bytes and
samples, parsed off the event loop), keeps each trial's :class:`TrialWatch`, and returns the
batch for one ``Search.observe_all`` call, unfiltered: the engine alone judges reports (garbage,
a resumed trainer catching up, windows already seen).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from hypersearch.engine import TrialReport
from hypersearch.engine.observations import WindowStat
from hypersearch.scrape import (
    MAX_SAMPLES,
    ScrapeError,
    SumCountState,
    fetch_metrics,
    parse_report,
)
from hypersearch.spec.model import MetricsSpec, SearchSpec

WINDOW_LABEL = 'window="'
LABELLED = re.compile(r'window="(\d+)"')  # the window a sample line names


@dataclass
class ParsedWindows:
    """What the last body a trial served said about each window: a hash of the window's sample
    lines, and the window's stat (None: not a scored window) and whether it was ``empty``."""

    digests: dict[int, int] = field(default_factory=dict)
    stats: dict[int, WindowStat | None] = field(default_factory=dict)
    empty: set[int] = field(default_factory=set)


def parse_served(text: str, metrics: MetricsSpec, metric: str, watch: TrialWatch) -> TrialReport:
    """:func:`parse_report` of ``text``, parsing only the windows whose lines changed since the
    trial's last body: a trainer re-serves its recent windows (the reference trainer its last
    64) on every scrape, and parsing 64 windows x 8 strata took ~55 ms a trial, ~55 CPU-seconds
    a round at 1,000 trials. A window's stat depends only on the lines labelled with it, so an
    unchanged window gets the stat its identical lines gave last time; the report is the same
    as a full parse (the engine still judges every window it holds)."""
    if metrics.objective_type != "window":
        return parse_report(text, metrics, metric, watch.sumcount)
    lines = text.split("\n")
    labelled = [i for i, line in enumerate(lines) if WINDOW_LABEL in line]
    labels = LABELLED.findall(text)  # the window of each labelled line, in order
    count = text.count(WINDOW_LABEL)
    blocks: dict[str, list[str]] = {}
    for i, label in zip(labelled, labels, strict=False):
        blocks.setdefault(label, []).append(lines[i])
    if (
        len(labels) != count
        or len(labelled) != count
        or text.count("{" + WINDOW_LABEL) + text.count("," + WINDOW_LABEL) != count
        or len({int(w) for w in blocks}) != len(blocks)
        or "\\" in text
        or any(lines[i][:1] == "#" for i in labelled)
        or len(lines) > MAX_SAMPLES
    ):
        # A window label that is not the one window label of a plain sample line (escapes, a
        # comment, two on a line, "07" beside "7"), or a body the full parse refuses: parse it
        # all, remember nothing.
        watch.parsed = ParsedWindows()
        return parse_report(text, metrics, metric, watch.sumcount)
    previous = watch.parsed
    digests = {int(w): hash("\n".join(b)) for w, b in blocks.items()}
    same = {w for w, d in digests.items() if previous.digests.get(w) == d and w in previous.stats}
    if same:
        unchanged = {label for label in blocks if int(label) in same}
        drop = {i for i, label in zip(labelled, labels, strict=True) if label in unchanged}
        text = "\n".join(line for i, line in enumerate(lines) if i not in drop)
    report = parse_report(text, metrics, metric, watch.sumcount)
    served_empty: set[int] = set(getattr(report, "empty", ()))
    windows: dict[int, WindowStat] = {}
    for w in digests:
        stat = previous.stats[w] if w in same else report.windows.get(w)
        if stat is not None:
            windows[w] = stat
        if w in same and w in previous.empty:
            served_empty.add(w)
    watch.parsed = ParsedWindows(
        digests, {w: windows.get(w) for w in digests}, served_empty & set(digests)
    )
    if not same:
        return report
    changes: dict[str, Any] = {"windows": windows}
    if hasattr(report, "empty"):
        changes["empty"] = frozenset(served_empty)
    return dataclasses.replace(report, **changes)


@dataclass
class TrialWatch:
    """What the executor knows of one running trial between rounds (rebuilt after a restart)."""

    url: str
    since: float = field(default_factory=time.monotonic)  # watched from (monotonic seconds)
    answered: bool = False
    failures: int = 0  # consecutive failed scrapes
    failing_since: float | None = None
    last_error: str = ""
    last_seen: tuple[float, float] = (-1.0, -1.0)  # position, examples
    last_change: float = field(default_factory=time.monotonic)
    done: bool = False  # the trainer said it finished (it lingers only to be scraped)
    sumcount: SumCountState = field(default_factory=SumCountState)
    parsed: ParsedWindows = field(default_factory=ParsedWindows)  # the last body, by window

    def failed_scrape(self, error: str, now: float, reached: bool = False) -> None:
        """A scrape failed; ``reached``: the endpoint answered (an HTTP status, a body), so the
        trainer is up and its failures count, rather than the start-up deadline."""
        self.answered = self.answered or reached
        self.failures += 1
        self.last_error = error
        if self.failing_since is None:
            self.failing_since = now

    def served(self, report: TrialReport, now: float) -> None:
        self.answered = True
        self.failures, self.failing_since, self.last_error = 0, None, ""
        seen = (report.position, report.examples)
        if seen != self.last_seen:
            self.last_seen, self.last_change = seen, now


@dataclass
class Round:
    """One scrape round: reports for ``observe_all``, trainers that said they are done, and
    trials whose trainer broke the protocol (to fail at once)."""

    reports: dict[int, TrialReport] = field(default_factory=dict)
    done: list[int] = field(default_factory=list)
    broken: list[tuple[int, str]] = field(default_factory=list)
    seen_at: float = 0.0


class Monitor:
    """The running trials' watches, and one scrape round at a time."""

    def __init__(self, spec: SearchSpec, concurrency: int = 64) -> None:
        self.spec = spec
        self.watches: dict[int, TrialWatch] = {}
        self.concurrency = concurrency
        # ``sumcount`` states saved by a previous executor, taken by each trial's first watch.
        self.resumed: dict[int, SumCountState] = {}

    def watch(self, trial_id: int, url: str, now: float | None = None) -> TrialWatch:
        """The trial's watch, started now if it has none (or its URL changed: a new process)."""
        current = self.watches.get(trial_id)
        if current is None or current.url != url:
            t = time.monotonic() if now is None else now
            current = self.watches[trial_id] = TrialWatch(url, since=t, last_change=t)
            saved = self.resumed.pop(trial_id, None)
            if saved is not None:
                current.sumcount = saved
        return current

    def sumcount(self, trial_id: int, recorded: Collection[int] = ()) -> dict[str, Any] | None:
        """The trial's ``sumcount`` state to persist (None when it has none)."""
        w = self.watches.get(trial_id)
        if w is not None:
            return w.sumcount.to_dict(recorded)
        saved = self.resumed.get(trial_id)  # not watched again yet: keep what was saved
        return saved.to_dict(recorded) if saved is not None else None

    def forget(self, trial_id: int) -> None:
        self.watches.pop(trial_id, None)

    async def scrape(self, session: aiohttp.ClientSession, ids: Sequence[int]) -> Round:
        """Scrape the watched trials ``ids`` concurrently."""
        m = self.spec.metrics
        limit = asyncio.Semaphore(self.concurrency)

        async def one(tid: int) -> tuple[int, TrialReport | ScrapeError]:
            w = self.watches[tid]
            async with limit:
                try:
                    text = await fetch_metrics(session, w.url, m.timeout_seconds)
                except ScrapeError as e:
                    return tid, e
                try:
                    # Parsing a large body takes CPU: off the event loop.
                    parsed = await asyncio.to_thread(parse_served, text, m, self.spec.metric, w)
                except ScrapeError as e:
                    e.reached = True  # it answered, with something unusable
                    return tid, e
            return tid, parsed

        results = await asyncio.gather(*(one(t) for t in ids if t in self.watches))
        out = Round(seen_at=time.monotonic())
        for tid, result in results:
            w = self.watches[tid]
            if isinstance(result, ScrapeError):
                w.failed_scrape(str(result), out.seen_at, result.reached)
                if result.terminal and not w.done:
                    w.done = True  # reported once
                    out.broken.append((tid, f"metrics endpoint broke the protocol: {result}"))
                continue
            w.served(result, out.seen_at)
            out.reports[tid] = result
            if result.done and not w.done:
                w.done = True
                out.done.append(tid)
        return out


__all__ = ["Monitor", "ParsedWindows", "Round", "TrialWatch", "parse_served"]
