"""Prometheus exporter for the metrics protocol of docs/design.md §3.

The training loop only updates plain numbers under a lock; a custom collector renders them when
scraped, on prometheus-client's own HTTP thread, so a scrape never blocks a training step for
longer than copying a few numbers.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from hypersearch_trainer.compute import ComputeMeter
from hypersearch_trainer.metrics import WindowResult

PREFIX = "hypersearch_trainer"
ALL = "all"
# Completed windows served as per-window gauges (HS_METRICS_WINDOWS). The executor records each
# window as it arrives and keeps the history, so the body stays bounded (about 0.5 MB at 32
# strata) however long the stream. 64 leaves room for an executor that restarts: the operator
# writes a trial's record at least every 16 windows (``kube.status.PERSIST_WINDOWS``), so a
# restart loses nothing unless about 48 more windows complete while it is away.
KEEP_WINDOWS = 64


class TrainerMetrics(Collector):
    """Current values of every exported metric; thread-safe updates, rendered on scrape."""

    def __init__(
        self,
        windows_total: int,
        keep_windows: int = KEEP_WINDOWS,
        info: dict[str, str] | None = None,
        compute: ComputeMeter | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self.compute = compute or ComputeMeter()
        self.windows_total = windows_total
        self.keep_windows = keep_windows
        self.info = dict(info or {})
        self.position = 0.0
        self.train_examples = 0
        self.loss_sum: dict[str, float] = {ALL: 0.0}
        self.eval_examples: dict[str, int] = {ALL: 0}
        self.windows: OrderedDict[int, WindowResult] = OrderedDict()
        self.done = 0

    # ---- updates from the training loop
    def set_position(self, position: float) -> None:
        with self._lock:
            self.position = position

    def add_trained(self, n: int, position: float) -> None:
        with self._lock:
            self.train_examples += n
            self.position = position

    def add_window(self, result: WindowResult) -> None:
        """Record a fully scored window: counters and per-window gauges."""
        with self._lock:
            self.loss_sum[ALL] += result.loss_sum
            self.eval_examples[ALL] += result.examples
            for s, r in result.strata.items():
                self.loss_sum[s] = self.loss_sum.get(s, 0.0) + r.loss_sum
                self.eval_examples[s] = self.eval_examples.get(s, 0) + r.examples
            self.windows[result.window] = result
            while len(self.windows) > self.keep_windows:
                self.windows.popitem(last=False)

    def update_window(self, result: WindowResult) -> None:
        """Replace a window's record (e.g. after training on it) without touching counters."""
        with self._lock:
            if result.window in self.windows:
                self.windows[result.window] = result

    def set_done(self) -> None:
        with self._lock:
            self.done = 1

    def snapshot(self) -> dict[str, Any]:
        """Counter state for checkpoints."""
        with self._lock:
            return {
                **self.compute.snapshot(),
                "train_examples": self.train_examples,
                "loss_sum": dict(self.loss_sum),
                "eval_examples": dict(self.eval_examples),
            }

    def restore(self, snap: dict[str, Any], history: list[WindowResult], position: float) -> None:
        """Continue counters and window gauges from a checkpoint."""
        with self._lock:
            self.compute.restore(snap.get("cpu_seconds", 0.0), snap.get("gpu_seconds", 0.0))
            self.train_examples = int(snap["train_examples"])
            self.loss_sum = {k: float(v) for k, v in snap["loss_sum"].items()}
            self.eval_examples = {k: int(v) for k, v in snap["eval_examples"].items()}
            self.position = position
            for r in history[-self.keep_windows :]:
                self.windows[r.window] = r

    # ---- rendering
    def collect(self) -> Iterator[Metric]:
        with self._lock:
            position, train, done = self.position, self.train_examples, self.done
            loss_sum, eval_n = dict(self.loss_sum), dict(self.eval_examples)
            windows = list(self.windows.values())
        g = GaugeMetricFamily(f"{PREFIX}_position", "Data time reached, in windows (fractional).")
        g.add_metric([], position)
        yield g
        c = CounterMetricFamily(
            f"{PREFIX}_train_examples", "Examples trained on after sub-sampling (beside compute)."
        )
        c.add_metric([], float(train))
        yield c
        cpu = CounterMetricFamily(
            f"{PREFIX}_cpu_seconds",
            "CPU-seconds (user+system) of the trainer's process tree since the run started: the cost.",
        )
        cpu.add_metric([], self.compute.cpu_seconds())
        yield cpu
        gpu = CounterMetricFamily(
            f"{PREFIX}_gpu_seconds", "Wall-seconds x GPUs in use since the run started (0 on CPU)."
        )
        gpu.add_metric([], self.compute.gpu_seconds())
        yield gpu
        s = SummaryMetricFamily(
            f"{PREFIX}_eval_loss",
            "Progressive-validation logloss: _sum of per-example losses, _count of examples.",
            labels=["stratum"],
        )
        e = CounterMetricFamily(
            f"{PREFIX}_eval_examples",
            "Examples scored by progressive validation.",
            labels=["stratum"],
        )
        for k in sorted(eval_n):
            s.add_metric([k], count_value=eval_n[k], sum_value=loss_sum.get(k, 0.0))
            e.add_metric([k], float(eval_n[k]))
        yield s
        yield e
        wm = GaugeMetricFamily(
            f"{PREFIX}_window_metric",
            "Exact metric of each recent completed window.",
            labels=["window", "metric", "stratum"],
        )
        we = GaugeMetricFamily(
            f"{PREFIX}_window_examples",
            "Eval examples of each recent completed window (strata weights).",
            labels=["window", "stratum"],
        )
        for r in windows:
            w = str(r.window)
            we.add_metric([w, ALL], float(r.examples))
            for name, val in (("logloss", r.logloss), ("auc", r.auc)):
                if val is not None and not math.isnan(val):
                    wm.add_metric([w, name, ALL], val)
            for st, sr in r.strata.items():
                we.add_metric([w, st], float(sr.examples))
                for name, sval in (("logloss", sr.logloss), ("auc", sr.auc)):
                    if sval is not None and not math.isnan(sval):
                        wm.add_metric([w, name, st], sval)
        yield wm
        yield we
        t = GaugeMetricFamily(f"{PREFIX}_windows_total", "Number of windows T in the stream.")
        t.add_metric([], float(self.windows_total))
        yield t
        d = GaugeMetricFamily(f"{PREFIX}_done", "1 once the run has finished its data.")
        d.add_metric([], float(done))
        yield d
        if self.info:
            i = GaugeMetricFamily(f"{PREFIX}_info", "Run identity.", labels=sorted(self.info))
            i.add_metric([self.info[k] for k in sorted(self.info)], 1.0)
            yield i


def serve(metrics: TrainerMetrics, port: int, host: str) -> Any:
    """Start the HTTP endpoint on its own daemon thread; returns the server (or None if off)."""
    if port == 0:
        return None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server
