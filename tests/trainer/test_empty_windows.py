"""Days without any example: what a real trainer exports for them, and what the scraper reads.

The reference trainer completes such a window like any other (its position advances past it),
scores nothing, and serves its count (``window_examples{stratum="all"} 0``) but no metric: never
a NaN or a 0 that would read as a value. The scraper turns that into an empty window of the
report (missing data), and the trainer's own target leaves it out.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypersearch.scrape import SumCountState, parse_report
from hypersearch.spec.model import MetricsSpec

from tests.trainer.helpers import (
    make_stream,
    read_json,
    run_until_done,
    write_yaml,
)
from tests.trainer.test_exporter import samples

DAYS = 8
EMPTY_DAYS = (2, 7)  # one in the middle, and the stream's last day


def gapped_stream(directory: Path, days: int = DAYS, empty: tuple[int, ...] = EMPTY_DAYS) -> Path:
    """A dataset YAML over a small parquet file with whole days removed (``empty``); ``start``
    and ``end`` keep those days as windows of the stream, as a calendar does."""
    table = make_stream(directory / "full.parquet", days=days, rows_per_day=150)
    ts = table["ts"].to_numpy()
    day = (ts - np.datetime64("2024-03-01")) // np.timedelta64(1, "D")
    keep = ~np.isin(day, empty)
    pq.write_table(table.filter(pa.array(keep)), directory / "gapped.parquet", row_group_size=300)
    end = np.datetime64("2024-03-01") + np.timedelta64(days, "D")
    return write_yaml(directory / "gapped.yaml", "gapped.parquet", start="2024-03-01", end=str(end))


def test_a_real_trainer_exports_a_day_without_examples_as_missing(tmp_path: Path) -> None:
    dataset = gapped_stream(tmp_path)
    out = tmp_path / "r.json"
    text = run_until_done(
        out, HS_DATASET=str(dataset), HS_DATA_RATE="0.5", HS_EVAL_WINDOWS="3", HS_PARAM_model="lr"
    )
    res = read_json(out)
    by_window = {w["window"]: w for w in res["windows"]}
    # The result: every window completed, the empty days with nothing scored or trained.
    assert sorted(by_window) == list(range(DAYS)) and res["position"] == DAYS
    for w in EMPTY_DAYS:
        assert by_window[w]["examples"] == 0 and by_window[w]["trained"] == 0
        assert by_window[w]["logloss"] is None and by_window[w]["auc"] is None
    # Its target: the last 3 windows (5, 6, 7) less the empty one, never reaching back to 4.
    target = res["target"]
    assert target["windows"] == [5, 6] and target["empty"] == [7]
    assert target["covers_stream_end"] is True
    assert math.isclose(target["logloss"], (by_window[5]["logloss"] + by_window[6]["logloss"]) / 2)

    # The endpoint: the count 0 is served, the metric is not (no NaN, no 0 read as a value).
    m = samples(text)
    assert m[("hypersearch_trainer_position", ())] == DAYS
    for w in EMPTY_DAYS:
        assert (
            m[("hypersearch_trainer_window_examples", (("stratum", "all"), ("window", str(w))))]
            == 0
        )
        assert not [
            key
            for key in m
            if key[0] == "hypersearch_trainer_window_metric" and ("window", str(w)) in key[1]
        ]

    # The scraper: those days are empty windows of the report, the others values.
    report = parse_report(text, MetricsSpec(), "logloss")
    assert report.empty == frozenset(EMPTY_DAYS)
    assert sorted(report.windows) == [w for w in range(DAYS) if w not in EMPTY_DAYS]
    for w, stat in report.windows.items():
        assert stat.value == by_window[w]["logloss"] and stat.count == by_window[w]["examples"]
    assert report.position == DAYS and report.done


def counters(position: float, loss: float, count: float) -> str:
    return (
        f"hypersearch_trainer_position {position}\n"
        "hypersearch_trainer_train_examples_total 10\n"
        f'hypersearch_trainer_eval_loss_sum{{stratum="all"}} {loss}\n'
        f'hypersearch_trainer_eval_loss_count{{stratum="all"}} {count}\n'
    )


def test_sumcount_windows_whose_count_did_not_move_are_empty() -> None:
    """A ``sumcount`` objective only has counters: a span of windows across which the count
    stayed put had nothing to score, which is missing data, not a mean of 0/0."""
    spec = MetricsSpec(
        objective_type="sumcount",
        objective_name="hypersearch_trainer_eval_loss_sum",
        objective_count_name="hypersearch_trainer_eval_loss_count",
    )
    state = SumCountState()
    parse_report(counters(1.0, 50.0, 100.0), spec, "logloss", state)
    r = parse_report(counters(2.0, 95.0, 200.0), spec, "logloss", state)
    assert set(r.windows) == {1} and r.empty == frozenset()
    r = parse_report(counters(4.0, 95.0, 200.0), spec, "logloss", state)  # days 2 and 3: nothing
    assert set(r.windows) == {1} and r.empty == frozenset({2, 3})
    # Kept with the readings, so a restarted executor still reports them.
    restored = SumCountState.from_dict(state.to_dict(recorded={1}))
    r = parse_report(counters(5.0, 140.0, 300.0), spec, "logloss", restored)
    assert set(r.windows) == {4} and r.empty == frozenset({2, 3})
    assert r.windows[4].value == 0.45


def test_a_served_count_of_zero_beside_a_metric_is_not_empty() -> None:
    text = (
        "hypersearch_trainer_position 2\n"
        "hypersearch_trainer_train_examples_total 10\n"
        'hypersearch_trainer_window_metric{window="0",metric="logloss",stratum="all"} 0.5\n'
        'hypersearch_trainer_window_examples{window="0",stratum="all"} 0\n'
        'hypersearch_trainer_window_examples{window="1",stratum="all"} 0\n'
        'hypersearch_trainer_window_examples{window="1",stratum="us"} 0\n'
    )
    r = parse_report(text, MetricsSpec(), "logloss")
    assert set(r.windows) == {0} and r.empty == frozenset({1})
