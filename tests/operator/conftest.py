"""Helpers for operator tests: CRDs installed once, the operator as a real process, tiny searches.

Trials run the reference trainer (``python -m hypersearch_trainer``) as pod processes of the
test cluster's node agent, on a generated drifting stream of a few thousand rows.
"""

from __future__ import annotations

import base64
import copy
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.cluster import Cluster

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
GROUP, VERSION = "hypersearch.dev", "v1alpha1"


def tiny_search(name: str, **changes: Any) -> dict[str, Any]:
    """A two-stage search over the learning rate of the reference trainer on 12 tiny windows."""
    doc: dict[str, Any] = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "HyperSearch",
        "metadata": {"name": name},
        "spec": {
            "objective": {"metric": "logloss", "goal": "minimize", "evaluationWindows": 3},
            "stream": {"windows": 12},
            "seed": 3,
            "parameters": [{"name": "lr", "type": "double", "min": 0.001, "max": 0.5, "scale": "log"}],
            "sampler": {"name": "sobol"},
            "trials": 5,
            "parallelism": 3,
            "maxFailedTrials": 1,
            "stage1": {
                "data": {"rate": 0.5},
                "stopping": {"rule": "performance", "rungs": [4, 8], "eta": 2, "minCohort": 2,
                             "compareWindows": 3},
                "predictor": {"name": "constant", "recentWindows": 3},
            },
            "stage2": {"topK": 1},
            "metrics": {"intervalSeconds": 0.5, "timeoutSeconds": 2, "maxFailures": 4},
            "trialTemplate": {"spec": {"containers": [{
                "name": "trainer",
                "image": "ghcr.io/hypersearch/trainer:0.1.0",
                "command": [sys.executable, "-m", "hypersearch_trainer"],
                "args": ["--quiet"],
                "env": [
                    {"name": "HS_DATASET", "value": "synth:agrawal?windows=12&window_rows=2000"},
                    {"name": "HS_PARAM_model", "value": "lr"},
                ],
            }]}},
        },
    }  # fmt: skip
    doc["spec"].update(copy.deepcopy(changes))
    return doc


class Operator:
    """``python -m hypersearch.kube`` as a child process, logging to a file."""

    def __init__(self, kubeconfig: Path, namespace: str, log: Path, *extra: str) -> None:
        self.kubeconfig, self.namespace, self.log_path = kubeconfig, namespace, log
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.metrics_port = _free_port()

    def start(self) -> Operator:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hypersearch.kube", "--kubeconfig", str(self.kubeconfig),
             "-n", self.namespace, "--metrics-port", str(self.metrics_port),
             "--metrics-host", "127.0.0.1", "--lease-seconds", "4", "--startup-grace", "90",
             *self.extra],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=REPO,
        )  # fmt: skip
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, no lease release, as a crashed pod."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)  # a clean exit is tested elsewhere; don't idle here
            except subprocess.TimeoutExpired:
                self.kill()
        if hasattr(self, "_log"):
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def crds(cluster: Cluster) -> None:
    """The HyperSearch and Trial CRDs, installed once per session and Established."""
    with cluster.api_client() as api:
        ext = client.ApiextensionsV1Api(api)
        for path in sorted((MANIFESTS / "crds").glob("*.yaml")):
            body = yaml.safe_load(path.read_text())
            try:
                ext.create_custom_resource_definition(body)
            except client.ApiException as e:
                if e.status != 409:
                    raise
                current = ext.read_custom_resource_definition(body["metadata"]["name"])
                body["metadata"]["resourceVersion"] = current.metadata.resource_version
                ext.replace_custom_resource_definition(body["metadata"]["name"], body)

        def established() -> bool:
            for name in ("hypersearches.hypersearch.dev", "trials.hypersearch.dev"):
                conds = ext.read_custom_resource_definition(name).status.conditions or []
                if not any(c.type == "Established" and c.status == "True" for c in conds):
                    return False
            return True

        cluster.wait(established, 60, "CRDs established")


@pytest.fixture
def operator_factory(cluster: Cluster, namespace: str, crds: None, tmp_path: Path) -> Iterator[Any]:
    """Starts operators (admin kubeconfig unless one is given); all stopped at the end."""
    started: list[Operator] = []

    def make(*extra: str, kubeconfig: Path | None = None) -> Operator:
        op = Operator(
            kubeconfig or cluster.kubeconfig,
            namespace,
            tmp_path / f"operator-{len(started)}.log",
            *extra,
        )
        started.append(op.start())
        return op

    yield make
    for op in started:
        op.stop()


def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def create_search(
    api: client.ApiClient, namespace: str, doc: dict[str, Any], dry_run: bool = False
) -> dict[str, Any]:
    extra = {"dry_run": "All"} if dry_run else {}
    created: dict[str, Any] = custom(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "hypersearches", doc, **extra
    )
    return created


def get_search(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = custom(api).get_namespaced_custom_object(
        GROUP, VERSION, namespace, "hypersearches", name
    )
    return obj


def trials(api: client.ApiClient, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = custom(api).list_namespaced_custom_object(
        GROUP, VERSION, namespace, "trials"
    )["items"]
    return items


def wait_phase(
    cluster: Cluster,
    api: client.ApiClient,
    namespace: str,
    name: str,
    phases: tuple[str, ...],
    timeout: float = 180,
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        obj = get_search(api, namespace, name)
        return obj if (obj.get("status") or {}).get("phase") in phases else None

    return cluster.wait(reached, timeout, f"search {name} to reach {'/'.join(phases)}")


def events(api: client.ApiClient, namespace: str, name: str) -> list[tuple[str, str, str]]:
    items = client.CoreV1Api(api).list_namespaced_event(namespace).items
    return [
        (e.type, e.reason, e.message or "")
        for e in items
        if e.involved_object.kind == "HyperSearch" and e.involved_object.name == name
    ]


def pod_runs(cluster: Cluster, namespace: str) -> dict[str, int]:
    """How many pod objects of each name the node agent ran (one directory per pod uid)."""
    counts: dict[str, int] = {}
    for d in cluster.pod_dir.glob(f"{namespace}_*"):
        name = d.name[len(namespace) + 1 :].rsplit("_", 1)[0]
        counts[name] = counts.get(name, 0) + 1
    return counts


def service_account_kubeconfig(
    cluster: Cluster, api: client.ApiClient, namespace: str, account: str, path: Path
) -> Path:
    """A kubeconfig holding a real token of ``account`` (token controller), no admin rights."""
    core = client.CoreV1Api(api)
    secret = f"{account}-token"
    core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": secret,
                         "annotations": {"kubernetes.io/service-account.name": account}},
            "type": "kubernetes.io/service-account-token",
        },
    )  # fmt: skip

    def token() -> str | None:
        data = core.read_namespaced_secret(secret, namespace).data or {}
        return base64.b64decode(data["token"]).decode() if "token" in data else None

    jwt = cluster.wait(token, 60, "the service account token")
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    ctx = admin["contexts"][0]["context"]
    cl = next(c for c in admin["clusters"] if c["name"] == ctx["cluster"])
    conf = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": cl["cluster"]}],
        "users": [{"name": account, "user": {"token": jwt}}],
        "contexts": [{"name": "sa", "context": {"cluster": "test", "user": account,
                                                 "namespace": namespace}}],
        "current-context": "sa",
    }  # fmt: skip
    path.write_text(yaml.safe_dump(conf))
    return path


def wait_until(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")
