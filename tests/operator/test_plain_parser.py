"""The scraper's fast path for plain sample lines reads exactly what the general Prometheus
text parser reads, and leaves every other body to it."""

from __future__ import annotations

import random

import pytest
from hypersearch import scrape
from hypersearch.scrape import ScrapeError, _plain_samples, _samples
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from tests.operator.test_parse_cache import body


def general(text: str) -> scrape._Samples:
    """The samples as prometheus_client's parser gives them (the fast path switched off)."""
    return scrape._general_samples(text, scrape.MAX_SAMPLES)


def exported() -> str:
    """A body as prometheus_client itself writes it: counters (with _created), histograms,
    labelled gauges, +Inf buckets."""
    reg = CollectorRegistry()
    c = Counter("hs_examples", "examples", registry=reg)
    c.inc(12345.5)
    g = Gauge("hs_window_metric", "m", ["metric", "stratum", "window"], registry=reg)
    for w in range(5):
        g.labels("logloss", "all", str(w)).set(0.1 * w + 1e-9)
        g.labels("auc", "s,1}", str(w)).set(float("nan") if w == 2 else -w)
    h = Histogram("hs_round_seconds", "r", registry=reg)
    for v in (0.01, 0.2, 3.0, 100.0):
        h.observe(v)
    return generate_latest(reg).decode()


@pytest.mark.parametrize(
    "text",
    [
        body(40.5, keep=64, strata=8, seed=3),
        exported(),
        'a 1\nb{x="1",y="two words"} -2.5e-3 1700000000000\nc{z="}{,"} +Inf\nd -Inf\ne NaN\n',
        'trailing{a="b",} 3\n# HELP x y\n# TYPE x gauge\nx 4.\ny .5\n',
    ],
    ids=["trainer", "prometheus_client", "edge", "comments"],
)
def test_the_fast_path_reads_what_the_general_parser_reads(text: str) -> None:
    fast = _plain_samples(text, scrape.MAX_SAMPLES)
    assert fast is not None  # these bodies are all plain
    slow = general(text)
    assert fast.values.keys() == slow.values.keys()
    for name, rows in slow.values.items():
        got = fast.values[name]
        assert [labels for labels, _ in got] == [labels for labels, _ in rows], name
        for (_, a), (_, b) in zip(got, rows, strict=True):
            assert a == b or (a != a and b != b), (name, a, b)  # NaN equals NaN here


@pytest.mark.parametrize(
    "text",
    [
        'a{x="with \\" quote"} 1\n',  # an escape: the general parser's job
        'a{x="1",x="2"} 1\n',  # a repeated label
        "a 1 2 3\n",  # not a sample line
        "a{x=unquoted} 1\n",
    ],
)
def test_anything_else_goes_to_the_general_parser(text: str) -> None:
    assert _plain_samples(text, scrape.MAX_SAMPLES) is None
    try:
        expected = general(text).values
    except ScrapeError:
        with pytest.raises(ScrapeError):
            _samples(text)
    else:
        assert _samples(text).values == expected


def test_the_sample_cap_holds_on_the_fast_path() -> None:
    text = "".join(f'm{{i="{i}"}} {random.random()}\n' for i in range(50))
    with pytest.raises(ScrapeError, match="more than 40 samples") as e:
        _plain_samples(text, 40)
    assert e.value.terminal
