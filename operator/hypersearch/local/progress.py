"""The live progress display: stage, trials by state, running trials, stops with reasons, cost
(compute first, examples beside it).

On a terminal it is a rich Live panel; elsewhere (CI logs, pipes) each event is one plain line,
so a log still tells the story of the search.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from hypersearch.engine import TrialState
from hypersearch.report.costtext import cost_line

if TYPE_CHECKING:
    from hypersearch.local.runner import LocalRunner

RECENT_EVENTS = 8


@dataclass(frozen=True)
class Event:
    """Something a person wants to see in the log: a start, a stop with its reason, the end."""

    at: float
    trial: str
    kind: str
    text: str

    def line(self) -> str:
        who = f"{self.trial}: " if self.trial else ""
        return f"[{_clock(self.at)}] {self.kind:<8} {who}{self.text}"


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def relative_score(runner: LocalRunner, trial_id: int) -> float | None:
    """Mean relative gap (in %) to the other stage-1 trials over the trial's recent windows.

    Compared at the same windows only, as the engine does; positive means worse than the cohort.
    """
    search = runner.search
    spec = search.spec
    trial = search.trials[trial_id]
    recent = sorted(trial.windows)[-spec.stopping.compare_windows :]
    gaps = []
    for w in recent:
        others = [
            t.windows[w].value
            for t in search.trials
            if t.id != trial_id and t.stage == 1 and w in t.windows
        ]
        if not others:
            continue
        ref = sum(others) / len(others)
        if ref and math.isfinite(ref):
            gaps.append(spec.sign * (trial.windows[w].value - ref) / abs(ref) * 100.0)
    return sum(gaps) / len(gaps) if gaps else None


class Display:
    """Renders the runner's state; a no-op when disabled (tests, --quiet)."""

    def __init__(self, runner: LocalRunner, enabled: bool = True) -> None:
        self.runner = runner
        self.enabled = enabled
        self.console = Console(stderr=True)
        self.live: Live | None = None

    def __enter__(self) -> Display:
        if self.enabled and self.console.is_terminal:
            self.live = Live(self._render(), console=self.console, refresh_per_second=4)
            self.live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.live is not None:
            self.live.update(self._render())
            self.live.__exit__(exc_type, exc, tb)
            self.live = None

    def event(self, ev: Event) -> None:
        if not self.enabled:
            return
        if self.live is None:
            print(ev.line(), file=sys.stderr, flush=True)
        elif ev.kind in ("stopped", "failed", "finish"):
            self.live.console.print(Text(ev.line(), style=_style(ev.kind)))

    def say(self, text: str) -> None:
        if self.enabled:
            print(text, file=sys.stderr, flush=True)

    def refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._render())

    # ----------------------------------------------------------------- rendering

    def _render(self) -> Any:
        r = self.runner
        search = r.search
        s = search.summary()
        counts = s["trials"]
        header = Text()
        header.append(f"{search.spec.name}", style="bold")
        header.append(f"  stage {search.stage}  {search.phase}  {_clock(r.elapsed())}\n")
        header.append(
            f"trials: {counts['running']} running, {counts['stopped']} stopped, "
            f"{counts['completed']} completed, {counts['failed']} failed "
            f"(stage 1: {counts['total']} configurations)\n"
        )
        header.append(cost_line(s["cost"]))
        table = Table(box=None, pad_edge=False, expand=False)
        for col in ("trial", "stage", search.spec.window_name, "relative", "params"):
            table.add_column(col)
        windows = search.spec.windows
        for tid in sorted(r.live):
            t = search.trials[tid]
            rel = relative_score(r, tid) if t.stage == 1 else None
            rel_text = (
                Text("–")
                if rel is None
                else Text(f"{rel:+.2f}%", style="green" if rel <= 0 else "red")
            )
            table.add_row(
                t.name,
                str(t.stage),
                f"{t.position:6.1f}/{min(t.data.stop, windows)}",
                rel_text,
                " ".join(f"{k}={_fmt(v)}" for k, v in t.params.items()),
            )
        recent = [e for e in r.events if e.kind in ("stopped", "failed", "finish")]
        lines = Text()
        for e in recent[-RECENT_EVENTS:]:
            lines.append(e.line() + "\n", style=_style(e.kind))
        return Group(header, table, lines)


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _style(kind: str) -> str:
    return {"failed": "red", "stopped": "yellow", "finish": "bold green"}.get(kind, "")


__all__ = ["Display", "Event", "TrialState", "relative_score"]
