"""One throwaway Kubernetes cluster: the real control plane plus the node agent.

Used by the pytest fixtures and by `python -m tests.cluster up`. Everything runs on loopback
from a per-run directory that keeps the logs after the cluster is gone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from kubernetes import client, config

from tests.cluster.agent import AGENT_LABEL
from tests.cluster.binaries import Binaries
from tests.cluster.controlplane import ClusterStartError, ControlPlane
from tests.cluster.procs import spawn, stop, tail

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_NODES = (
    "node-0:cpu=16,memory=64Gi,nvidia.com/gpu=4",
    "node-1:cpu=16,memory=64Gi,nvidia.com/gpu=4",
)
KEEP_RUNS = 10
T = TypeVar("T")


def runs_base() -> Path:
    """Parent of the per-run directories (HYPERSEARCH_TEST_RUNS overrides)."""
    default = Path(tempfile.gettempdir()) / "hypersearch-test-runs"
    return Path(os.environ.get("HYPERSEARCH_TEST_RUNS", default))


def _prune_old_runs(base: Path) -> None:
    """Keeps the newest KEEP_RUNS run directories so logs don't pile up forever; a day's
    grace keeps the run of a concurrent long session."""
    runs = sorted((p for p in base.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in runs[:-KEEP_RUNS]:
        if time.time() - old.stat().st_mtime > 86400:
            shutil.rmtree(old, ignore_errors=True)


class Cluster:
    """A running test cluster; use as a context manager or call start() and stop()."""

    def __init__(
        self,
        *,
        nodes: Sequence[str] = DEFAULT_NODES,
        scheduler: bool = True,
        binaries: Binaries | None = None,
        run_dir: Path | None = None,
        entrypoints: Mapping[str, str] | None = None,
        pod_ip_prefix: str | None = None,
    ) -> None:
        """nodes: agent node specs (NAME:cpu=..,memory=..,nvidia.com/gpu=..); scheduler=False
        lets the agent bind pods; entrypoints: IMAGE -> command for containers that only give
        args; pod_ip_prefix: first two octets of pod IPs (default: random 127.100-199)."""
        self.binaries = binaries or Binaries.find()
        base = runs_base()
        base.mkdir(parents=True, exist_ok=True)
        _prune_old_runs(base)
        self.run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
        self.run_dir = run_dir or base / self.run_id
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.control_plane = ControlPlane(self.binaries, self.run_dir, scheduler=scheduler)
        self.node_specs = list(nodes)
        self.node_names = [n.partition(":")[0] for n in nodes]
        self.pod_dir = self.run_dir / "pods"
        self.agent: subprocess.Popen[bytes] | None = None
        self.with_scheduler = scheduler
        self.entrypoints = dict(entrypoints or {})
        self.pod_ip_prefix = pod_ip_prefix
        self.started_seconds = 0.0

    # -- what tests use ------------------------------------------------------------------

    @property
    def kubeconfig(self) -> Path:
        return self.control_plane.kubeconfig

    @property
    def server(self) -> str:
        """The API server URL, https://127.0.0.1:PORT."""
        return self.control_plane.server

    @property
    def log_dir(self) -> Path:
        return self.control_plane.log_dir

    def api_client(
        self, impersonate: str | None = None, group: str | None = None
    ) -> client.ApiClient:
        """A fresh admin ApiClient. With impersonate (e.g. system:serviceaccount:NS:NAME) every
        request is made as that user (plus group, if given), so RBAC applies to it."""
        conf = client.Configuration()
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig), client_configuration=conf
        )
        api = client.ApiClient(conf)
        if impersonate:
            api.set_default_header("Impersonate-User", impersonate)  # type: ignore[no-untyped-call]
            if group:
                api.set_default_header("Impersonate-Group", group)  # type: ignore[no-untyped-call]
        return api

    def create_namespace(self, prefix: str = "test") -> str:
        """A new namespace with a unique name, returned once its default ServiceAccount
        exists (pods are rejected before that)."""
        name = f"{prefix[:40].lower().strip('-')}-{uuid.uuid4().hex[:6]}"
        with self.api_client() as api:
            core = client.CoreV1Api(api)
            core.create_namespace(
                client.V1Namespace(
                    metadata=client.V1ObjectMeta(
                        name=name, labels={"hypersearch.test/run": self.run_id}
                    )
                )
            )

            def has_sa() -> bool:
                try:
                    core.read_namespaced_service_account("default", name)
                    return True
                except client.ApiException:
                    return False

            self.wait(has_sa, 60, f"default ServiceAccount in {name}")
        return name

    def delete_namespace(self, name: str) -> None:
        """Starts deleting a namespace (the namespace controller and the agent finish it)."""
        with self.api_client() as api:
            try:
                client.CoreV1Api(api).delete_namespace(name)
            except client.ApiException as e:
                if e.status != 404:
                    raise

    def pod_log(self, namespace: str, pod: str, container: str | None = None) -> str:
        """What a pod's container printed (there is no kubelet API for `kubectl logs`)."""
        logs = sorted(self.pod_dir.glob(f"{namespace}_{pod}_*/{container or '*'}.log"))
        return "".join(p.read_text(errors="replace") for p in logs)

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Runs the pinned helm against this cluster, with its state kept in the run dir.
        With check, a non-zero exit raises with helm's stderr in the message."""
        result = subprocess.run(
            [str(self.binaries.helm), *args], env=self.env(), capture_output=True, text=True
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"helm {' '.join(args)} exited {result.returncode}:\n{result.stderr}{result.stdout}"
            )
        return result

    def env(self) -> dict[str, str]:
        """os.environ plus KUBECONFIG and isolated helm dirs, for child processes."""
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
            env[var] = str(self.run_dir / "helm" / var.lower())
        return env

    def wait(self, predicate: Callable[[], T], timeout: float, what: str) -> T:
        """Polls predicate until truthy; fails with `what` (and dead components) otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            self.check_healthy()
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.1)

    def check_healthy(self) -> None:
        """Raises if a control-plane component or the agent has died."""
        dead = self.control_plane.dead()
        if self.agent is not None and self.agent.poll() is not None:
            dead.append("node-agent")
        if dead:
            raise ClusterStartError(f"cluster components died: {dead}\n{self.failure_report()}")

    def failure_report(self, lines: int = 30, namespace: str | None = None) -> str:
        """Tails of all component logs plus the agent's, and of the namespace's pods."""
        parts = [f"cluster run dir: {self.run_dir}", self.control_plane.log_tails(lines)]
        if namespace:
            for log in sorted(self.pod_dir.glob(f"{namespace}_*/*.log")):
                pod = log.parent.name.split("_")[1]
                parts.append(f"----- pod {namespace}/{pod} {log.stem} -----\n{tail(log, lines)}")
        return "\n".join(parts)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 180.0) -> Cluster:
        """Starts the control plane and the agent; returns when pods can be scheduled."""
        began = time.monotonic()
        try:
            self.control_plane.start(timeout)
            self._start_agent()
            with self.api_client() as api:
                core = client.CoreV1Api(api)
                self.wait(lambda: self._nodes_ready(core), 60, "agent nodes to register")
                self.wait(lambda: self._has_default_sa(core), 60, "the ServiceAccount controller")
        except BaseException:
            report = self.failure_report(60)
            self.stop()
            sys.stderr.write(f"test cluster failed to start:\n{report}\n")
            raise
        self.started_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stops the agent (killing pod processes), then the control plane."""
        if self.agent is not None:
            stop(self.agent, grace=10.0)
        self.control_plane.stop()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------------------

    def _start_agent(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "tests.cluster",
            "agent",
            f"--kubeconfig={self.kubeconfig}",
            f"--pod-dir={self.pod_dir}",
            *(f"--node={n}" for n in self.node_specs),
        ]
        if not self.with_scheduler:
            argv.append("--bind")
        argv += [f"--entrypoint={image}={cmd}" for image, cmd in self.entrypoints.items()]
        if self.pod_ip_prefix:
            argv.append(f"--ip-prefix={self.pod_ip_prefix}")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        self.agent = spawn(argv, self.log_dir / "node-agent.log", env=env, cwd=REPO_ROOT)

    def _nodes_ready(self, core: client.CoreV1Api) -> bool:
        if self.agent is not None and self.agent.poll() is not None:
            raise ClusterStartError(
                "node agent exited:\n" + tail(self.log_dir / "node-agent.log", 60)
            )
        nodes = core.list_node(label_selector=f"{AGENT_LABEL}=true").items
        ready = [
            n for n in nodes if n.spec and not n.spec.taints and n.status and n.status.allocatable
        ]
        return len(ready) == len(self.node_names)

    @staticmethod
    def _has_default_sa(core: client.CoreV1Api) -> bool:
        try:
            core.read_namespaced_service_account("default", "default")
            return True
        except client.ApiException:
            return False
