"""Prints the operator's /metrics as its process serves it, after exercising every collector:
the real modules (`hypersearch.kube.handlers` and what it imports register the collectors),
the real export functions with a realistic status, then one sample on any collector still empty,
served by prometheus-client's own HTTP server on the default registry (as `run_operator` does).
Run as `python -m tests.lint.operator_metrics` (a process of its own: the samples it adds must
not leak into other tests' registries)."""

from __future__ import annotations

import sys
import urllib.request

from hypersearch.kube import handlers, metrics  # noqa: F401  (handlers: the operator's imports)
from prometheus_client import REGISTRY, start_http_server
from prometheus_client.metrics import MetricWrapperBase


def exercise() -> None:
    status = {
        "phase": "Running",
        "trials": {"running": 2, "stopped": 3, "failed": 1, "total": 6},
        "cost": {"reduction": 3.5, "examplesReduction": 4.0, "fullSearchExamples": 1e6,
                 "totalExamples": 2.5e5, "stage1CpuSeconds": 120.0, "stage2CpuSeconds": 60.0,
                 "fullSearchCpuSeconds": 630.0, "resourceSeconds": {"cpu": 200.0}},
    }  # fmt: skip
    metrics.export_status("ml", "search-a", status)
    metrics.set_search_phase("ml", "search-b", "Running")
    metrics.set_search_phase("ml", "search-b", "Failed")
    # Every collector gets at least one sample, so each family is linted with data.
    for name in dir(metrics):
        collector = getattr(metrics, name)
        if not isinstance(collector, MetricWrapperBase):
            continue
        names = collector._labelnames
        one = collector.labels(*["x"] * len(names)) if names else collector
        kind = collector._type
        if kind == "counter":
            one.inc()
        elif kind == "gauge":
            one.set(1)
        elif kind in ("histogram", "summary"):
            one.observe(0.2)


def main() -> int:
    exercise()
    server, _ = start_http_server(0, addr="127.0.0.1", registry=REGISTRY)
    with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics") as r:
        sys.stdout.write(r.read().decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
