"""A real Prometheus (Debian's package) scrapes the chart's operator and the trainer pods of a
running search; every dashboard query and alert rule is then checked against what it stored.

Prometheus gets the targets the Prometheus Operator would derive from the chart's
ServiceMonitor and PodMonitor: the operator at its pod IP with the Service's name as `job`, and
the trainers through file_sd entries that carry the Kubernetes SD meta labels, relabelled by the
PodMonitor's own relabelings. The alert rules are the PrometheusRule's groups, as rendered.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.chart.helpers import DASHBOARD, install_operator, operator_values, render, write_values
from tests.cluster import Cluster
from tests.operator.conftest import create_search, tiny_search, wait_phase

RELEASE = "hs"
Obj = dict[str, Any]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


class Prometheus:
    """`/usr/bin/prometheus` on loopback with a generated config; queried over its HTTP API."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("prometheus")
        # Installed by scripts/install-test-deps.sh; missing means a failed test, not a skip.
        assert binary, "prometheus not found: run scripts/install-test-deps.sh"
        self.binary, self.dir, self.port = binary, workdir, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, config: Obj) -> None:
        cfg = self.dir / "prometheus.yml"
        cfg.write_text(yaml.safe_dump(config))
        promtool = shutil.which("promtool")
        assert promtool, "promtool not found"
        check = subprocess.run([promtool, "check", "config", str(cfg)], capture_output=True,
                               text=True)  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr
        self.log = open(self.dir / "prometheus.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [self.binary, f"--config.file={cfg}", f"--storage.tsdb.path={self.dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            assert self.proc.poll() is None, f"prometheus exited:\n{self.logs()}"
            assert time.monotonic() < deadline, f"prometheus not ready:\n{self.logs()}"
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if hasattr(self, "log"):
            self.log.close()

    def logs(self) -> str:
        path = self.dir / "prometheus.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def api(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=30) as r:
                body = json.load(r)
        except urllib.error.HTTPError as e:
            raise AssertionError(f"{path} {params}: {e.code} {e.read().decode()}") from e
        assert body["status"] == "success", body
        return body["data"]


def trainer_targets(core: client.CoreV1Api, namespace: str) -> list[Obj]:
    """file_sd groups with the meta labels Kubernetes pod discovery would give each trainer."""
    groups = []
    pods = core.list_namespaced_pod(namespace, label_selector="hypersearch.dev/trial").items
    for pod in pods:
        if pod.status.phase != "Running" or not pod.status.pod_ip:
            continue  # the Prometheus Operator drops Succeeded/Failed pods too
        labels = {
            "__meta_kubernetes_namespace": namespace,
            "__meta_kubernetes_pod_name": pod.metadata.name,
            "__meta_kubernetes_pod_ip": pod.status.pod_ip,
            "__meta_kubernetes_pod_container_name": pod.spec.containers[0].name,
            "__meta_kubernetes_pod_phase": pod.status.phase,
        }
        for k, v in (pod.metadata.labels or {}).items():
            labels["__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", k)] = v
        groups.append({"targets": [pod.status.pod_ip], "labels": labels})
    return groups


class TargetWriter(threading.Thread):
    """Rewrites the trainers' file_sd file from the pod list, as Kubernetes discovery would."""

    def __init__(self, cluster: Cluster, namespace: str, path: Path) -> None:
        super().__init__(daemon=True)
        self.cluster, self.namespace, self.path = cluster, namespace, path
        self.done = threading.Event()
        self.seen: set[str] = set()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.cluster.api_client() as api:
                core = client.CoreV1Api(api)
                while not self.done.is_set():
                    groups = trainer_targets(core, self.namespace)
                    self.seen |= {g["labels"]["__meta_kubernetes_pod_name"] for g in groups}
                    tmp = self.path.with_suffix(".tmp")
                    tmp.write_text(json.dumps(groups))
                    tmp.replace(self.path)  # atomic: Prometheus never reads half a file
                    self.done.wait(0.5)
        except BaseException as e:  # reported by the test
            self.error = e


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Prometheus]:
    prom = Prometheus(tmp_path)
    yield prom
    prom.stop()


def scrape_config(
    rendered: list[Obj], operator_pod: client.V1Pod, namespace: str, sd_file: Path
) -> Obj:
    """The jobs the Prometheus Operator would generate from the chart's monitors."""
    by_kind = {o["kind"]: o for o in rendered}
    service, sm, pm = by_kind["Service"], by_kind["ServiceMonitor"], by_kind["PodMonitor"]
    endpoint = sm["spec"]["endpoints"][0]
    port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == endpoint["port"])
    pm_endpoint = pm["spec"]["podMetricsEndpoints"][0]
    relabel = [
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        {"target_label": "job", "replacement": f"{pm['metadata']['namespace']}/{pm['metadata']['name']}"},
    ]  # fmt: skip
    for r in pm_endpoint.get("relabelings", []):
        relabel.append({_snake(k): v for k, v in r.items()})
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yml"],
        "scrape_configs": [
            {
                "job_name": f"serviceMonitor/{namespace}/{sm['metadata']['name']}/0",
                "honor_labels": endpoint.get("honorLabels", False),
                "metrics_path": endpoint["path"],
                "static_configs": [{
                    "targets": [f"{operator_pod.status.pod_ip}:{port}"],
                    "labels": {"job": service["metadata"]["name"], "namespace": namespace,
                               "service": service["metadata"]["name"],
                               "pod": operator_pod.metadata.name, "endpoint": endpoint["port"]},
                }],
            },
            {
                "job_name": f"podMonitor/{namespace}/{pm['metadata']['name']}/0",
                "metrics_path": pm_endpoint["path"],
                "file_sd_configs": [{"files": [str(sd_file)], "refresh_interval": "1s"}],
                "relabel_configs": relabel,
            },
        ],
    }  # fmt: skip


def substitute(expr: str, namespace: str, search: str, job: str, range_s: int) -> str:
    """Grafana's variables as Grafana would fill them for this search."""
    for var, value in (("$__rate_interval", "10s"), ("$__range", f"{range_s}s"),
                       ("$operator_job", job), ("$namespace", namespace), ("$search", search),
                       ("$metric", "logloss")):  # fmt: skip
        expr = expr.replace(var, value)
    assert "$" not in re.sub(r"\$\{?\d\}?", "", expr), f"unsubstituted variable in {expr}"
    return expr


def _epoch(rfc3339: str) -> float:
    """Seconds since the epoch of Prometheus's RFC 3339 times (nanoseconds, ``Z``)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", rfc3339)
    assert m, rfc3339
    fraction = float(m.group(2) or 0.0)
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(m.group(1) + zone).timestamp() + fraction


def caught_up(prometheus: Prometheus, job: str, namespace: str, search: str, since: float) -> bool:
    """Has Prometheus scraped the search's final phase a few times (so that a range query
    with a 1 s step sees it), and evaluated every alert rule after ``since``?"""
    selector = (
        f'hypersearch_operator_search_phase{{job="{job}", namespace="{namespace}", '
        f'search="{search}", phase="Succeeded"}}'
    )
    scrapes = prometheus.api("query", query=f"count_over_time({selector}[5m])")["result"]
    if not scrapes or float(scrapes[0]["value"][1]) < 3:
        return False
    rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
    return bool(rules) and all(
        not r["lastEvaluation"].startswith("0001") and _epoch(r["lastEvaluation"]) > since
        for r in rules
    )


def dashboard_targets() -> list[tuple[str, Obj]]:
    board = json.loads(DASHBOARD.read_text())
    return [(p["title"], t) for p in board["panels"] for t in p.get("targets", [])]


def test_dashboard_and_alerts_have_data_during_a_search(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, tmp_path: Path,
    prometheus: Prometheus,
) -> None:  # fmt: skip
    monitors = {
        "metrics": {"serviceMonitor": {"enabled": True}},
        "trainerMetrics": {"podMonitor": {"enabled": True}},
        "prometheusRule": {"enabled": True},
    }
    values = write_values(tmp_path / "monitors.yaml", {**operator_values(tmp_path, 1), **monitors})
    rendered = render(cluster, RELEASE, namespace, "-f", str(values))
    (rule,) = [o for o in rendered if o["kind"] == "PrometheusRule"]
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    check = subprocess.run(["promtool", "check", "rules", str(rules_file)], capture_output=True,
                           text=True)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr

    # The operator from the chart (monitors off: there is no Prometheus Operator here).
    pod = install_operator(cluster, k8s, namespace, RELEASE, tmp_path)
    sd_file = tmp_path / "trainers.json"
    sd_file.write_text("[]")
    prometheus.start(scrape_config(rendered, pod, namespace, sd_file))
    writer = TargetWriter(cluster, namespace, sd_file)
    writer.start()
    started = time.time()
    job = next(o for o in rendered if o["kind"] == "Service")["metadata"]["name"]
    try:
        create_search(k8s, namespace, tiny_search("tiny"))
        search = wait_phase(
            cluster, k8s, namespace, "tiny", ("Succeeded", "Failed", "Invalid"), 300
        )
        assert search["status"]["phase"] == "Succeeded", search["status"].get("reason")
        finished = time.time()
        # Wait (rather than sleep) until Prometheus has scraped the operator a few times after
        # the end and evaluated every alert rule since.
        cluster.wait(
            lambda: caught_up(prometheus, job, namespace, "tiny", finished),
            120,
            "Prometheus to scrape the finished search and evaluate its rules",
        )
    finally:
        writer.done.set()
        writer.join(10)
    assert writer.error is None, writer.error
    assert len(writer.seen) >= 5, writer.seen
    end = time.time()

    # Targets: the operator and trainers were scraped successfully.
    active = prometheus.api("targets")["activeTargets"]
    assert any(t["labels"]["job"] == job and t["health"] == "up" for t in active), active
    trainer_up = prometheus.api("query_range", query='up{search="tiny"}', start=started,
                                end=end, step=1)  # fmt: skip
    assert {s["metric"]["trial"] for s in trainer_up["result"]} >= {"tiny-000"}, trainer_up

    # The per-search phase gauge followed the search (Running, then Succeeded only) and the
    # only replica reports that it holds the Lease.
    phase = (
        f'hypersearch_operator_search_phase{{job="{job}", namespace="{namespace}", search="tiny"}}'
    )
    history = prometheus.api("query_range", query=phase, start=started, end=end, step=1)
    assert {s["metric"]["phase"] for s in history["result"]} == {"Running", "Succeeded"}, history
    last = prometheus.api("query", query=phase, time=end)["result"]
    assert [(s["metric"]["phase"], s["value"][1]) for s in last] == [("Succeeded", "1")], last
    leader = prometheus.api("query", query=f'hypersearch_operator_leader{{job="{job}"}}', time=end)
    assert [s["value"][1] for s in leader["result"]] == ["1"], leader

    # Every dashboard query parses and returns data for this search.
    empty = []
    for title, target in dashboard_targets():
        expr = substitute(target["expr"], namespace, "tiny", job, int(end - started) + 5)
        if target.get("instant"):
            data = prometheus.api("query", query=expr, time=end)
        else:
            data = prometheus.api("query_range", query=expr, start=started, end=end, step=1)
        if not data["result"]:
            empty.append(f"{title}: {expr}")
    assert not empty, "dashboard queries without data:\n" + "\n".join(empty)

    # Template variables (label_values) find this operator, namespace and search.
    board = json.loads(DASHBOARD.read_text())
    expected = {"operator_job": job, "namespace": namespace, "search": "tiny"}
    for var in board["templating"]["list"]:
        if var["type"] != "query":
            continue
        m = re.fullmatch(r"label_values\((.+), (\w+)\)", var["query"]["query"])
        assert m, var["query"]
        selector = substitute(m.group(1), namespace, "tiny", job, 60)
        series = prometheus.api("series", **{"match[]": selector}, start=started, end=end)
        assert expected[var["name"]] in {s.get(m.group(2)) for s in series}, (var["name"], series)

    # Alert rules: all evaluated without error; the operator is not reported down (so its
    # selector matches the operator's target) and the trainer selector matches trainers.
    rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
    assert {r["name"] for r in rules} == {r["alert"] for r in rule["spec"]["groups"][0]["rules"]}
    for r in rules:
        assert r["health"] == "ok" and not r.get("lastError"), r
        assert not r["lastEvaluation"].startswith("0001"), r
    for name in ("HyperSearchOperatorDown", "HyperSearchNoLeader", "HyperSearchFailed"):
        quiet = next(r for r in rules if r["name"] == name)
        assert quiet["state"] == "inactive", quiet
    tr_selector = re.search(
        r"up\{[^}]*\}",
        next(r["query"] for r in rules if r["name"] == "HyperSearchTrainerTargetsDown"),
    ).group(0)  # type: ignore[union-attr]
    assert prometheus.api("query_range", query=tr_selector, start=started, end=end, step=1)[
        "result"
    ], tr_selector
    for r in rules:
        data = prometheus.api("query_range", query=r["query"], start=started, end=end, step=1)
        assert isinstance(data["result"], list)
