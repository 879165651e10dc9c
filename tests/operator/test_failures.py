"""Failure handling with real processes: a trainer that crashes, a pod deleted by hand, and
metrics endpoints that answer garbage or errors."""

from __future__ import annotations

import sys
from typing import Any

from kubernetes import client

from tests.cluster import Cluster
from tests.operator.conftest import (
    GROUP,
    VERSION,
    create_search,
    custom,
    events,
    tiny_search,
    trials,
    wait_phase,
    wait_until,
)

# Serves garbage (x < 0.5) or HTTP 500 (otherwise) where the trainer's metrics should be.
BROKEN_ENDPOINT = r"""
import http.server, os
x = float(os.environ["HS_PARAM_x"])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<html>this is not Prometheus</html>" if x < 0.5 else b"oops"
        self.send_response(200 if x < 0.5 else 500)
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer((os.environ["HS_METRICS_HOST"], int(os.environ["HS_METRICS_PORT"])), H).serve_forever()
"""


def test_crashing_trainer_fails_its_trial_and_deleted_pod_is_recreated(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    operator_factory()
    doc = tiny_search(
        "crash",
        trials=3,
        parallelism=3,
        sampler={"name": "grid"},
        parameters=[
            {"name": "model", "type": "categorical", "values": ["lr", "nosuchmodel"]},
            {"name": "lr", "type": "double", "min": 0.05, "max": 0.1, "step": 0.05},
        ],
        stage1={"data": {"rate": 0.5}, "stopping": {"rule": "none"}},
    )
    env = doc["spec"]["trialTemplate"]["spec"]["containers"][0]["env"]
    env[:] = [{"name": "HS_DATASET", "value": "synth:agrawal?windows=12&window_rows=6000"}]
    create_search(k8s, namespace, doc)

    core = client.CoreV1Api(k8s)
    # Delete a healthy trial's pod while it runs: the operator recreates it.
    by_model = {}

    def healthy_running() -> str | None:
        for t in trials(k8s, namespace):
            by_model[t["metadata"]["name"]] = t["spec"]["params"]["model"]
        for p in core.list_namespaced_pod(namespace).items:
            if by_model.get(p.metadata.name) == "lr" and p.status.phase == "Running":
                return str(p.metadata.name)
        return None

    victim = wait_until(healthy_running, 90, "a healthy trial pod to run")
    core.delete_namespaced_pod(victim, namespace, grace_period_seconds=0)
    # ...and its Trial resource (the record): the operator writes it back.
    custom(k8s).delete_namespaced_custom_object(GROUP, VERSION, namespace, "trials", victim)

    search = wait_phase(cluster, k8s, namespace, "crash", ("Succeeded", "Failed"), timeout=150)
    assert search["status"]["phase"] == "Succeeded", search["status"].get("reason")
    states = {t["metadata"]["name"]: t["status"] for t in trials(k8s, namespace)}
    failed = [n for n, m in by_model.items() if m == "nosuchmodel"]
    assert failed
    for name in failed:
        assert states[name]["state"] == "Failed"
        assert "exited with code 2" in states[name]["reason"], states[name]["reason"]
    assert search["status"]["trials"]["failed"] == len(failed)
    msgs = events(k8s, namespace, "crash")
    assert any(r == "Recreated" and victim in m for _, r, m in msgs), msgs
    for name in failed:  # a pod that fails on its own is reported once, with the reason
        fails = [m for _, r, m in msgs if r == "TrialFailed" and m.startswith(f"{name}:")]
        assert len(fails) == 1 and "exited with code 2" in fails[0], msgs
    assert states[victim]["state"] in ("Completed", "Stopped")
    assert states[victim]["record"]["windows"], states[victim]  # the record came back whole
    assert any(r == "Recreated" and f"Trial {victim} was deleted" in m for _, r, m in msgs), msgs
    # The count that limits recreations is in the status (a restarted operator reads it back).
    assert search["status"]["recreations"] == {victim: 1}, search["status"].get("recreations")


def test_broken_metrics_endpoints_fail_trials_with_the_reason(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    operator_factory()
    doc = tiny_search(
        "broken",
        trials=2,
        parallelism=2,
        maxFailedTrials=1,
        sampler={"name": "grid", "gridPoints": 2},
        parameters=[{"name": "x", "type": "double", "min": 0.0, "max": 1.0}],
    )
    container = doc["spec"]["trialTemplate"]["spec"]["containers"][0]
    container["command"] = [sys.executable, "-c", BROKEN_ENDPOINT]
    container["args"] = []
    create_search(k8s, namespace, doc)
    search = wait_phase(cluster, k8s, namespace, "broken", ("Succeeded", "Failed"), timeout=90)
    status = search["status"]
    assert status["phase"] == "Failed"
    assert "more than maxFailedTrials=1" in status["reason"]
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["Failed"]["status"] == "True"
    reasons = {t["spec"]["params"]["x"]: t["status"]["reason"] for t in trials(k8s, namespace)}
    assert "not Prometheus text format" in reasons[0.0], reasons
    assert "HTTP 500" in reasons[1.0], reasons
    # Failed trials' pods are removed.
    wait_until(
        lambda: (
            not [
                p
                for p in client.CoreV1Api(k8s).list_namespaced_pod(namespace).items
                if p.metadata.deletion_timestamp is None
            ]
        ),
        60,
        "failed trial pods to be deleted",
    )


# Answers every scrape with the same position: the endpoint is alive, the training is not.
HUNG_TRAINER = r"""
import http.server, os
BODY = (b"hypersearch_trainer_position 2\n"
        b"hypersearch_trainer_train_examples_total 200\n"
        b"hypersearch_trainer_done 0\n"
        b'hypersearch_trainer_window_metric{window="0",metric="logloss"} 0.6\n'
        b'hypersearch_trainer_window_examples{window="0"} 100\n'
        b'hypersearch_trainer_window_metric{window="1",metric="logloss"} 0.6\n'
        b'hypersearch_trainer_window_examples{window="1"} 100\n')
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *a):
        pass
http.server.HTTPServer((os.environ["HS_METRICS_HOST"], int(os.environ["HS_METRICS_PORT"])), H).serve_forever()
"""


def test_a_hung_trainer_fails_at_the_progress_deadline_with_one_event(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    operator_factory()
    doc = tiny_search("hung", trials=1, parallelism=1, maxFailedTrials=0)
    doc["spec"]["deadlines"] = {"progressSeconds": 5}
    container = doc["spec"]["trialTemplate"]["spec"]["containers"][0]
    container["command"], container["args"] = [sys.executable, "-c", HUNG_TRAINER], []
    create_search(k8s, namespace, doc)
    status = wait_phase(cluster, k8s, namespace, "hung", ("Succeeded", "Failed"), timeout=120)
    assert status["status"]["phase"] == "Failed"
    (trial,) = trials(k8s, namespace)
    assert trial["status"]["reason"].startswith("ProgressDeadlineExceeded: "), trial["status"]
    said = [m for _, r, m in events(k8s, namespace, "hung") if r == "TrialFailed"]
    assert len(said) == 1 and "ProgressDeadlineExceeded" in said[0], said
    wait_until(
        lambda: not client.CoreV1Api(k8s).list_namespaced_pod(namespace).items, 60,
        "the hung trainer's pod to be deleted",
    )  # fmt: skip


def test_a_trainer_that_starts_slowly_is_not_failed_before_its_startup_deadline(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any
) -> None:
    """Twenty seconds without an endpoint (a busy node, a slow import) at a 0.5 s interval and
    maxFailures 4: a count of failed scrapes would have failed it in 2 s."""
    operator_factory()
    doc = tiny_search("slow", trials=2, parallelism=2, maxFailedTrials=0)
    doc["spec"]["deadlines"] = {"startupSeconds": 90}
    container = doc["spec"]["trialTemplate"]["spec"]["containers"][0]
    slow = (
        "import runpy, sys, time; time.sleep(20); sys.argv = ['hypersearch-trainer', '--quiet']; "
        "runpy.run_module('hypersearch_trainer', run_name='__main__')"
    )
    container["command"], container["args"] = [sys.executable, "-c", slow], []
    create_search(k8s, namespace, doc)
    status = wait_phase(cluster, k8s, namespace, "slow", ("Succeeded", "Failed"), timeout=240)
    assert status["status"]["phase"] == "Succeeded", status["status"].get("reason")
    assert not [r for _, r, _ in events(k8s, namespace, "slow") if r == "TrialFailed"]
