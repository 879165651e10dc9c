"""Read a trainer's Prometheus endpoint into the engine's :class:`TrialReport`.

Executor-agnostic: the local runner and the Kubernetes operator both call :func:`parse_report`
on the text they fetched (with :func:`fetch_metrics`, bounded in size and time). Metric names
come from the spec's ``metrics`` section, so a user's own trainer can use its own names.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import yarl
from prometheus_client.parser import text_string_to_metric_families

from hypersearch.engine.observations import (
    TrialReport,
    WindowStat,
    decode_window_set,
    decode_windows,
    encode_window_set,
    encode_windows,
)
from hypersearch.spec.model import MetricsSpec

OVERALL = "all"
# Eval examples per window for the `window` objective type (the strata weights); optional.
WINDOW_COUNT_NAME = "hypersearch_trainer_window_examples"
MAX_BODY_BYTES = 4 * 1024 * 1024
# Windows a ``sumcount`` state keeps re-serving to the engine, as a trainer serves its last 64.
SUMCOUNT_WINDOWS = 64


# Samples one scrape may carry (windows x strata x series): a larger body fails the trial
# rather than the operator's memory or event loop.
MAX_SAMPLES = 200_000
# Error texts land in Trial reasons and Events: short, and never quoting the body.
MAX_ERROR_CHARS = 300
PLAIN_PATH = re.compile(r"^/[A-Za-z0-9._~/-]*$")


class ScrapeError(Exception):
    """The endpoint could not be read or did not say what the spec requires.

    ``terminal``: the trainer broke the protocol (a body over the limits); retrying cannot help,
    so the trial fails at once instead of after ``maxFailures`` scrapes.
    """

    def __init__(self, message: str, terminal: bool = False, reached: bool = False) -> None:
        super().__init__(message[:MAX_ERROR_CHARS])
        self.terminal = terminal
        self.reached = reached  # the endpoint answered (an HTTP status), just not usefully


def metrics_url(ip: str, port: int, path: str) -> str:
    """``http://<pod IP>:<port><path>``, built from parts and checked, so that no spec or pod
    can make the operator fetch another host (IPv6 addresses bracketed, no user-info)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError as e:
        raise ScrapeError(f"pod IP {ip[:64]!r} is not an IP address") from e
    if not PLAIN_PATH.match(path):
        raise ScrapeError(f"metrics path {path[:64]!r} is not a plain absolute path")
    url = yarl.URL.build(scheme="http", host=str(address), port=port, path=path)
    if url.host != str(address) or url.user is not None or url.port != port:
        raise ScrapeError(f"metrics URL for {ip} does not point at the pod")
    return str(url)


@dataclass
class SumCountState:
    """Counter readings at the last window boundary, per stratum (``sumcount`` objectives).

    Counters make missed scrapes harmless: the mean of the windows between two boundary
    readings is a difference of sums over a difference of counts. When one scrape crosses
    several boundaries, each window in the span gets the span's mean (scrape more often than
    windows complete to avoid that). When the count did not move across the span, its windows
    had no example to score: they are ``empty`` (missing data), never a value.
    """

    boundary: int | None = None
    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, float] = field(default_factory=dict)
    windows: dict[int, WindowStat] = field(default_factory=dict)
    # Windows between two boundary readings whose count did not move: no example to score.
    empty: set[int] = field(default_factory=set)

    def to_dict(self, recorded: Collection[int] = ()) -> dict[str, Any] | None:
        """Plain data to persist beside the trial's record (None before the first reading), so
        that a restarted executor continues from the last boundary instead of leaving the
        windows since then as holes; only windows the record lacks (``recorded``) are kept."""
        if self.boundary is None:
            return None
        pending = {w: s for w, s in self.windows.items() if w not in recorded}
        out: dict[str, Any] = {
            "boundary": self.boundary,
            "sums": dict(sorted(self.sums.items())),
            "counts": dict(sorted(self.counts.items())),
            "windows": encode_windows(pending),
        }
        if self.empty:
            out["empty"] = encode_window_set(self.empty)
        return out

    @classmethod
    def from_dict(cls, raw: Any) -> SumCountState:
        """The state :meth:`to_dict` wrote; a fresh one when ``raw`` is absent or unreadable."""
        try:
            return cls(
                boundary=int(raw["boundary"]),
                sums={str(k): float(v) for k, v in raw["sums"].items()},
                counts={str(k): float(v) for k, v in raw["counts"].items()},
                windows=decode_windows(raw.get("windows") or []),
                empty=decode_window_set(raw.get("empty")),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return cls()


@dataclass
class _Samples:
    values: dict[str, list[tuple[dict[str, str], float]]] = field(default_factory=dict)

    def scalar(self, name: str) -> float | None:
        rows = self.values.get(name)
        return rows[0][1] if rows else None

    def total(self, name: str) -> float | None:
        """The sum over every series of a counter (e.g. one per GPU), None when absent."""
        rows = self.values.get(name)
        return sum(v for _, v in rows) if rows else None

    def rows(self, name: str) -> list[tuple[dict[str, str], float]]:
        return self.values.get(name, [])


# One plain sample line of the text format: a name, labels whose values hold no quote (the
# body has no backslash, so none is escaped), a number and an optional timestamp.
_PLAIN = re.compile(
    r"([a-zA-Z_:][a-zA-Z0-9_:]*)"
    r"(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\n]*\",?)*)\})?"
    r"[ \t]+([-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[Ii]nf|NaN))"
    r"(?:[ \t]+-?\d+)?[ \t]*"
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"')


def _plain_samples(text: str, max_samples: int) -> _Samples | None:
    """The samples of a body made only of comments and plain sample lines, read with one
    regular expression (~10x faster than the general parser, whose 20-30 us a line was 61% of
    the operator's CPU at 1,000 trials x 8 strata); None for anything else (escapes, a line
    the expression does not take whole, a repeated label), which the general parser reads."""
    if "\\" in text:
        return None
    out = _Samples()
    seen = 0
    for line in text.split("\n"):
        if not line or line[0] == "#":
            continue
        m = _PLAIN.fullmatch(line)
        if m is None:
            return None
        seen += 1
        if seen > max_samples:
            raise ScrapeError(
                f"the endpoint serves more than {max_samples:,} samples", terminal=True
            )
        name, block, value = m.groups()
        labels = dict(_LABEL.findall(block)) if block else {}
        if block and len(labels) != block.count('="'):
            return None
        out.values.setdefault(name, []).append((labels, float(value)))
    return out


def _samples(text: str, max_samples: int = MAX_SAMPLES) -> _Samples:
    plain = _plain_samples(text, max_samples)
    return plain if plain is not None else _general_samples(text, max_samples)


def _general_samples(text: str, max_samples: int) -> _Samples:
    out = _Samples()
    seen = 0
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                seen += 1
                if seen > max_samples:
                    raise ScrapeError(
                        f"the endpoint serves more than {max_samples:,} samples", terminal=True
                    )
                out.values.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    except (ValueError, TypeError, IndexError) as e:
        # The parser's message quotes the offending line: never echo a body into status.
        raise ScrapeError("the body is not Prometheus text format") from e
    return out


def _window_stats(
    samples: _Samples, metrics: MetricsSpec, metric: str
) -> tuple[dict[int, WindowStat], frozenset[int]]:
    """The served windows, and the served windows that had no example to score: a count of 0
    (``window_examples{stratum="all"}``) and no metric is missing data, not a value."""
    counts: dict[tuple[int, str], float] = {}
    for labels, value in samples.rows(WINDOW_COUNT_NAME):
        try:
            counts[(int(labels["window"]), labels.get("stratum", OVERALL))] = value
        except (KeyError, ValueError):
            continue
    overall: dict[int, float] = {}
    strata: dict[int, dict[str, tuple[float, float]]] = {}
    for labels, value in samples.rows(metrics.objective_name):
        if labels.get("metric", metric) != metric:
            continue
        try:
            w = int(labels["window"])
        except (KeyError, ValueError):
            continue
        stratum = labels.get("stratum", OVERALL)
        if stratum == OVERALL:
            overall[w] = value
        else:
            strata.setdefault(w, {})[stratum] = (value, counts.get((w, stratum), 0.0))
    windows = {
        w: WindowStat(v, counts.get((w, OVERALL), 0.0), strata.get(w, {}))
        for w, v in overall.items()
    }
    empty = frozenset(
        w
        for (w, stratum), n in counts.items()
        if stratum == OVERALL and n == 0 and w not in overall
    )
    return windows, empty


def _by_stratum(rows: list[tuple[dict[str, str], float]]) -> dict[str, float]:
    return {labels.get("stratum", OVERALL): v for labels, v in rows}


def _sumcount_stats(
    samples: _Samples, metrics: MetricsSpec, position: float, state: SumCountState
) -> dict[int, WindowStat]:
    sums = _by_stratum(samples.rows(metrics.objective_name))
    counts = _by_stratum(samples.rows(metrics.objective_count_name))
    if OVERALL not in sums or OVERALL not in counts:
        return dict(state.windows)
    boundary = math.floor(position + 1e-9)
    if state.boundary is None:
        state.boundary, state.sums, state.counts = boundary, sums, counts
        return dict(state.windows)
    if boundary <= state.boundary:
        return dict(state.windows)

    def mean(s: str) -> tuple[float, float] | None:
        dn = counts.get(s, 0.0) - state.counts.get(s, 0.0)
        if dn <= 0:
            return None
        return (sums.get(s, 0.0) - state.sums.get(s, 0.0)) / dn, dn

    total = mean(OVERALL)
    if total is not None:
        span = boundary - state.boundary
        strata = {s: m for s in sums if s != OVERALL and (m := mean(s)) is not None}
        for w in range(state.boundary, boundary):
            state.windows[w] = WindowStat(
                total[0],
                total[1] / span,
                {s: (v, n / span) for s, (v, n) in strata.items()},
            )
    elif counts[OVERALL] == state.counts.get(OVERALL):
        # Nothing was scored between the two boundaries: these windows had no examples.
        state.empty.update(range(state.boundary, boundary))
    state.boundary, state.sums, state.counts = boundary, sums, counts
    for w in [w for w in state.windows if w < boundary - SUMCOUNT_WINDOWS]:
        del state.windows[w]  # recorded by the engine long ago: served as a trainer serves
    state.empty -= {w for w in state.empty if w < boundary - SUMCOUNT_WINDOWS}
    return dict(state.windows)


def parse_report(
    text: str,
    metrics: MetricsSpec,
    metric: str,
    sumcount: SumCountState | None = None,
) -> TrialReport:
    """One scrape's text as a report; ``sumcount`` carries counter readings between scrapes."""
    samples = _samples(text)
    position = samples.scalar(metrics.position)
    if position is None:
        raise ScrapeError(f"the endpoint does not expose {metrics.position}")
    examples = samples.scalar(metrics.examples)
    if examples is None:
        raise ScrapeError(f"the endpoint does not expose {metrics.examples}")
    done = (samples.scalar(metrics.done) or 0.0) >= 1.0
    # Optional compute counters: absent -> None, and the executor measures compute itself.
    cpu_seconds = samples.total(metrics.cpu_seconds)
    gpu_seconds = samples.total(metrics.gpu_seconds)
    if metrics.objective_type == "sumcount":
        state = sumcount or SumCountState()
        windows = _sumcount_stats(samples, metrics, position, state)
        empty = frozenset(state.empty)
    else:
        windows, empty = _window_stats(samples, metrics, metric)
    return TrialReport(
        position=position,
        examples=examples,
        windows=windows,
        done=done,
        cpu_seconds=cpu_seconds,
        gpu_seconds=gpu_seconds,
        empty=empty,
    )


async def fetch_metrics(
    session: aiohttp.ClientSession,
    url: str,
    timeout: float,
    max_bytes: int = MAX_BODY_BYTES,
) -> str:
    """GET a metrics endpoint with a timeout and a body-size bound; ScrapeError on any failure."""
    try:
        async with asyncio.timeout(timeout):
            async with session.get(url, allow_redirects=False) as resp:
                if resp.status != 200:
                    raise ScrapeError(f"HTTP {resp.status} from {url}", reached=True)
                body = bytearray()
                async for chunk in resp.content.iter_chunked(65536):
                    body.extend(chunk)
                    if len(body) > max_bytes:
                        raise ScrapeError(
                            f"metrics body of {url} exceeds {max_bytes:,} bytes",
                            terminal=True,
                            reached=True,
                        )
                return body.decode("utf-8", errors="replace")
    except TimeoutError as e:
        raise ScrapeError(f"timed out after {timeout:g}s reading {url}") from e
    except aiohttp.ClientError as e:
        raise ScrapeError(f"cannot read {url}: {type(e).__name__}") from e


__all__ = [
    "MAX_BODY_BYTES",
    "ScrapeError",
    "SumCountState",
    "fetch_metrics",
    "metrics_url",
    "parse_report",
]
