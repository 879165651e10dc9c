"""The scraper reads the reference trainer's exporter output into engine reports."""

from __future__ import annotations

import dataclasses

from hypersearch.scrape import ScrapeError, SumCountState, parse_report
from hypersearch.spec.model import MetricsSpec
from prometheus_client import CollectorRegistry, generate_latest

TEXT = """
# TYPE hypersearch_trainer_position gauge
hypersearch_trainer_position 3.5
# TYPE hypersearch_trainer_train_examples counter
hypersearch_trainer_train_examples_total 1200
# TYPE hypersearch_trainer_window_metric gauge
hypersearch_trainer_window_metric{window="0",metric="logloss",stratum="all"} 0.7
hypersearch_trainer_window_metric{window="0",metric="auc",stratum="all"} 0.6
hypersearch_trainer_window_metric{window="1",metric="logloss",stratum="all"} 0.5
hypersearch_trainer_window_metric{window="1",metric="logloss",stratum="us"} 0.4
# TYPE hypersearch_trainer_window_examples gauge
hypersearch_trainer_window_examples{window="1",stratum="all"} 100
hypersearch_trainer_window_examples{window="1",stratum="us"} 60
# TYPE hypersearch_trainer_done gauge
hypersearch_trainer_done 0
"""


def test_window_gauges_become_window_stats() -> None:
    r = parse_report(TEXT, MetricsSpec(), "logloss")
    assert (r.position, r.examples, r.done) == (3.5, 1200.0, False)
    assert r.windows[0].value == 0.7
    assert r.windows[1].value == 0.5 and r.windows[1].count == 100
    assert r.windows[1].strata == {"us": (0.4, 60.0)}


def test_compute_counters_are_read_when_present_and_none_when_absent() -> None:
    r = parse_report(TEXT, MetricsSpec(), "logloss")
    assert r.cpu_seconds is None and r.gpu_seconds is None
    text = TEXT + (
        "# TYPE hypersearch_trainer_cpu_seconds counter\n"
        "hypersearch_trainer_cpu_seconds_total 12.5\n"
        "# TYPE hypersearch_trainer_gpu_seconds counter\n"
        'hypersearch_trainer_gpu_seconds_total{device="0"} 3\n'
        'hypersearch_trainer_gpu_seconds_total{device="1"} 4\n'
    )
    r = parse_report(text, MetricsSpec(), "logloss")
    assert (r.cpu_seconds, r.gpu_seconds) == (12.5, 7.0)  # one series per GPU: summed
    # Names come from the spec, like every other metric.
    own = dataclasses.replace(MetricsSpec(), cpu_seconds="my_cpu_total", gpu_seconds="my_gpu")
    r = parse_report(TEXT + "my_cpu_total 2.25\n", own, "logloss")
    assert (r.cpu_seconds, r.gpu_seconds) == (2.25, None)


def test_missing_position_is_an_error() -> None:
    try:
        parse_report("hypersearch_trainer_done 1\n", MetricsSpec(), "logloss")
    except ScrapeError as e:
        assert "hypersearch_trainer_position" in str(e)
    else:
        raise AssertionError("expected ScrapeError")


def _sumcount_text(position: float, loss: float, n: float) -> str:
    return (
        f"hypersearch_trainer_position {position}\n"
        "hypersearch_trainer_train_examples_total 10\n"
        f'hypersearch_trainer_eval_loss_sum{{stratum="all"}} {loss}\n'
        f'hypersearch_trainer_eval_examples_total{{stratum="all"}} {n}\n'
    )


def test_sumcount_means_come_from_counter_differences() -> None:
    spec = dataclasses.replace(
        MetricsSpec(), objective_type="sumcount", objective_name="hypersearch_trainer_eval_loss_sum"
    )
    state = SumCountState()
    assert parse_report(_sumcount_text(0.2, 0, 0), spec, "logloss", state).windows == {}
    r = parse_report(_sumcount_text(1.1, 50, 100), spec, "logloss", state)
    assert r.windows[0].value == 0.5 and r.windows[0].count == 100
    r = parse_report(_sumcount_text(3.0, 110, 200), spec, "logloss", state)  # two windows lumped
    assert r.windows[1].value == r.windows[2].value == 0.6


def test_reads_the_reference_exporter() -> None:
    from hypersearch_trainer.exporter import TrainerMetrics
    from hypersearch_trainer.metrics import WindowResult

    m = TrainerMetrics(10)
    m.add_trained(500, 1.5)
    fields = {f.name for f in dataclasses.fields(WindowResult)}
    assert {"window", "logloss"} <= fields
    m.add_window(WindowResult(0, "d0", 100, 30, 69.0, 0.69, 0.7))
    reg = CollectorRegistry(auto_describe=False)
    reg.register(m)
    r = parse_report(generate_latest(reg).decode(), MetricsSpec(), "logloss")
    assert r.position == 1.5 and r.examples == 500
    assert abs(r.windows[0].value - 0.69) < 1e-9 and r.windows[0].count == 100
