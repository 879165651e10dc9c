"""The monitor parses only the windows a trainer's body changed: the same reports as a full parse."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypersearch.monitor import watch as watch_module
from hypersearch.monitor.watch import TrialWatch, parse_served
from hypersearch.scrape import parse_report
from hypersearch.spec.model import MetricsSpec

P = "hypersearch_trainer"


def body(position: float, keep: int, strata: int, seed: int, extra: tuple[str, ...] = ()) -> str:
    """What a trainer serves at ``position``: its last ``keep`` windows, ``strata`` strata."""
    lines = [f"{P}_position {position}", f"{P}_train_examples_total {position * 100}"]
    lines += [f"# TYPE {P}_window_metric gauge"]
    done = int(position)
    names = ["all"] + [f"s{k}" for k in range(strata)]
    for w in range(max(0, done - keep), done):
        rng = random.Random(seed * 100_000 + w)
        if w % 7 == 3:
            continue  # an empty window: a count of 0 and no metric
        for s in names:
            lines.append(
                f'{P}_window_metric{{metric="logloss",stratum="{s}",window="{w}"}} {rng.random()}'
            )
            lines.append(
                f'{P}_window_metric{{metric="auc",stratum="{s}",window="{w}"}} {rng.random()}'
            )
    lines += [f"# TYPE {P}_window_examples gauge"]
    for w in range(max(0, done - keep), done):
        for k, s in enumerate(names):
            n = 0 if w % 7 == 3 else 100 + k
            lines.append(f'{P}_window_examples{{stratum="{s}",window="{w}"}} {n}.0')
    return "\n".join([*lines, *extra]) + "\n"


def test_reports_equal_a_full_parse_while_windows_arrive_change_and_leave(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m, watch = MetricsSpec(), TrialWatch("http://127.0.0.1:9100/metrics")
    parsed: list[int] = []

    def counting(text: str, *args: Any) -> Any:
        parsed.append(text.count("\n"))
        return parse_report(text, *args)

    monkeypatch.setattr(watch_module, "parse_report", counting)
    seeds = [1, 1, 1, 2, 2, 1]  # a re-served window whose value changed (seed) is parsed again
    for i, seed in enumerate(seeds):
        text = body(3.5 + 9 * i, keep=20, strata=3, seed=seed)
        assert parse_served(text, m, "logloss", watch) == parse_report(text, m, "logloss")
        if i in (2, 4):  # 11 of the 20 windows served before, unchanged: not parsed again
            assert parsed[-1] < text.count("\n") * 0.6
    assert watch.parsed.digests  # the last body is remembered, window by window
    assert len(watch.parsed.digests) == 20


def test_a_window_label_it_cannot_attribute_falls_back_to_a_full_parse() -> None:
    m, watch = MetricsSpec(), TrialWatch("http://127.0.0.1:9100/metrics")
    odd = [
        f'{P}_window_metric{{metric="logloss",stratum="a\\"b",window="30"}} 0.25',
        f'{P}_window_metric{{metric="logloss",stratum="x",xwindow="29"}} 0.25',
        f'{P}_window_metric{{metric="logloss",stratum="y",window="029"}} 0.25',
        f'# HELP {P}_window_metric one window="29" of them',
    ]
    for extra in odd:
        for i in range(3):
            text = body(30 + i, keep=10, strata=2, seed=1, extra=(extra,) if i == 1 else ())
            assert parse_served(text, m, "logloss", watch) == parse_report(text, m, "logloss")
            assert bool(watch.parsed.digests) == (i != 1)


def test_an_unchanged_body_still_reports_every_window() -> None:
    m, watch = MetricsSpec(), TrialWatch("http://127.0.0.1:9100/metrics")
    text = body(12.0, keep=8, strata=4, seed=5)
    first = parse_served(text, m, "logloss", watch)
    again = parse_served(text, m, "logloss", watch)
    assert again == first == parse_report(text, m, "logloss")
    assert len(again.windows) == 7  # 8 served, one of them empty
