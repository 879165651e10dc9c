"""The operator's own Prometheus metrics (served on ``--metrics-port``).

Module-level collectors in the default registry: one operator process serves one set.
"""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

SEARCHES = Gauge(
    "hypersearch_operator_searches", "HyperSearch resources handled, by phase", ["phase"]
)
SEARCH_PHASE = Gauge(
    "hypersearch_operator_search_phase",
    "1 for each search's current phase (Running, Succeeded, Failed or Invalid); one series per search",
    ["namespace", "search", "phase"],
)
LEADER = Gauge(
    "hypersearch_operator_leader",
    "1 while this replica holds the leader-election Lease, 0 while it waits or after losing it",
    ["lease"],
)
TRIALS = Gauge(
    "hypersearch_operator_trials",
    "Trials of each search by state",
    ["namespace", "search", "state"],
)
STOPS = Counter(
    "hypersearch_operator_stops_total",
    "Trials stopped early (losers at rungs)",
    ["namespace", "search"],
)
FAILURES = Counter(
    "hypersearch_operator_trial_failures_total", "Trials that failed", ["namespace", "search"]
)
SCRAPES = Counter("hypersearch_operator_scrapes_total", "Trial metrics scrapes", ["result"])
SCRAPE_SECONDS = Histogram(
    "hypersearch_operator_scrape_seconds",
    "Latency of one trial metrics scrape",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ROUND_SECONDS = Histogram(
    "hypersearch_operator_round_seconds",
    "Duration of one search's control round (list, scrape, decide, persist)",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
API_REQUESTS = Counter(
    "hypersearch_operator_api_requests_total",
    "Kubernetes API requests made by the operator",
    ["verb"],
)
PREDICTED = Gauge(
    "hypersearch_operator_trial_predicted",
    "Stage-1 predicted target of each trial",
    ["namespace", "search", "trial"],
)
OBSERVED = Gauge(
    "hypersearch_operator_trial_final",
    "Observed target after full training (stage 2), to compare with the prediction",
    ["namespace", "search", "trial"],
)
EXAMPLES_SAVED = Gauge(
    "hypersearch_operator_examples_saved",
    "Training examples a full search would have processed minus those this search did",
    ["namespace", "search"],
)
COST_REDUCTION = Gauge(
    "hypersearch_operator_cost_reduction",
    "Compute of a full search divided by this search's compute (GPU-seconds if any run used a "
    "GPU, else CPU-seconds); absent until a full-data run has reported",
    ["namespace", "search"],
)
EXAMPLES_REDUCTION = Gauge(
    "hypersearch_operator_examples_reduction",
    "Training examples of a full search divided by this search's",
    ["namespace", "search"],
)
COMPUTE_SECONDS = Gauge(
    "hypersearch_operator_compute_seconds",
    "Compute the search's trials used so far, by stage (1, 2) and resource (cpu, gpu), in seconds",
    ["namespace", "search", "stage", "resource"],
)
FULL_SEARCH_COMPUTE_SECONDS = Gauge(
    "hypersearch_operator_full_search_compute_seconds",
    "Compute a full search (every configuration on all data) would use, by resource",
    ["namespace", "search", "resource"],
)
RESOURCE_SECONDS = Gauge(
    "hypersearch_operator_resource_seconds",
    "Requests x lifetime of every pod of the search (pending time included), by resource",
    ["namespace", "search", "resource"],
)
STOP_LATENCY = Histogram(
    "hypersearch_operator_stop_latency_seconds",
    "From the scrape that saw a trial cross a rung to its pod's deletion request",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


_phases: dict[tuple[str, str], str] = {}
_phases_lock = threading.Lock()


def set_search_phase(namespace: str, search: str, phase: str) -> None:
    """Export ``phase`` as the search's current phase; the previous phase's series goes."""
    with _phases_lock:
        old = _phases.get((namespace, search))
        if old is not None and old != phase:
            SEARCH_PHASE.remove(namespace, search, old)
        _phases[(namespace, search)] = phase
        SEARCH_PHASE.labels(namespace, search, phase).set(1)


def _set(gauge: Gauge, labels: dict[str, str], value: float | None) -> None:
    """Set a gauge's series, or drop it while the value is not known."""
    if value is not None:
        gauge.labels(**labels).set(value)
    else:
        gauge.remove_by_labels(labels)


def export_cost(namespace: str, search: str, cost: dict[str, Any]) -> None:
    """A search's ``status.cost`` as gauges: compute first, examples beside it."""
    key = {"namespace": namespace, "search": search}
    _set(COST_REDUCTION, key, cost.get("reduction"))
    _set(EXAMPLES_REDUCTION, key, cost.get("examplesReduction"))
    full = cost.get("fullSearchExamples")
    saved = None if full is None else full - (cost.get("totalExamples") or 0.0)
    _set(EXAMPLES_SAVED, key, saved)
    for resource, kind in (("cpu", "Cpu"), ("gpu", "Gpu")):
        per = {**key, "resource": resource}
        for stage in ("1", "2"):
            value = cost.get(f"stage{stage}{kind}Seconds")
            _set(COMPUTE_SECONDS, {**per, "stage": stage}, value)
        _set(FULL_SEARCH_COMPUTE_SECONDS, per, cost.get(f"fullSearch{kind}Seconds"))
        _set(RESOURCE_SECONDS, per, (cost.get("resourceSeconds") or {}).get(resource))


# Every collector with one series (or one per trial) per search.
PER_SEARCH = (
    TRIALS,
    STOPS,
    FAILURES,
    PREDICTED,
    OBSERVED,
    EXAMPLES_SAVED,
    COST_REDUCTION,
    EXAMPLES_REDUCTION,
    COMPUTE_SECONDS,
    FULL_SEARCH_COMPUTE_SECONDS,
    RESOURCE_SECONDS,
)


def export_status(namespace: str, search: str, status: dict[str, Any]) -> None:
    """A search's phase, trial counts and cost, from the status just written."""
    if status.get("phase"):
        set_search_phase(namespace, search, status["phase"])
    for state, count in (status.get("trials") or {}).items():
        if state != "total":
            TRIALS.labels(namespace, search, state).set(count)
    export_cost(namespace, search, status.get("cost") or {})


def forget_search(namespace: str, search: str) -> None:
    """Drop every series of a deleted search, so that deleted searches don't pile up."""
    with _phases_lock:
        old = _phases.pop((namespace, search), None)
        if old is not None:
            SEARCH_PHASE.remove(namespace, search, old)
    for collector in PER_SEARCH:
        collector.remove_by_labels({"namespace": namespace, "search": search})
