"""Runs etcd, kube-apiserver, kube-controller-manager and kube-scheduler on loopback.

Everything listens on 127.0.0.1 at free ports, so several clusters (several test sessions)
can run on one machine. Each run has its own directory with certificates, etcd data and logs;
stop() removes the data and keeps the logs.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.cluster import pki as pkimod
from tests.cluster.binaries import Binaries
from tests.cluster.procs import spawn, stop, tail

SERVICE_CIDR = "10.0.0.0/24"


class ClusterStartError(RuntimeError):
    """A component did not come up; the message carries its log tail."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ControlPlane:
    """The real control-plane processes of one throwaway cluster."""

    def __init__(self, binaries: Binaries, run_dir: Path, *, scheduler: bool = True) -> None:
        self.binaries = binaries
        self.run_dir = run_dir
        self.log_dir = run_dir / "logs"
        self.with_scheduler = scheduler
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.etcd_port = free_port()
        self.api_port = free_port()
        self.server = f"https://127.0.0.1:{self.api_port}"
        self.kubeconfig = run_dir / "kubeconfig"
        self.pki: pkimod.Pki | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 180.0) -> None:
        """Starts every component and returns once the API server's /readyz is green."""
        deadline = time.monotonic() + timeout
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.pki = pkimod.generate(self.run_dir / "pki")
        pkimod.write_kubeconfig(self.kubeconfig, self.server, self.pki)
        self._start_etcd()
        self._wait_http("etcd", f"http://127.0.0.1:{self.etcd_port}/health", deadline)
        self._start_apiserver()
        self._wait_http("kube-apiserver", f"{self.server}/readyz", deadline, client_cert=True)
        kcm_port = free_port()
        self._start_controller_manager(kcm_port)
        sched_port = free_port()
        if self.with_scheduler:
            self._start_scheduler(sched_port)
        self._wait_http(
            "kube-controller-manager", f"https://127.0.0.1:{kcm_port}/healthz", deadline
        )
        if self.with_scheduler:
            self._wait_http("kube-scheduler", f"https://127.0.0.1:{sched_port}/healthz", deadline)

    def stop(self) -> None:
        """Stops components in reverse start order and deletes etcd data and keys."""
        for name in reversed(list(self.procs)):
            stop(self.procs[name], grace=5.0)
        shutil.rmtree(self.run_dir / "etcd-data", ignore_errors=True)
        shutil.rmtree(self.run_dir / "pki", ignore_errors=True)

    def dead(self) -> list[str]:
        """Components that have exited, which should never happen while the cluster runs."""
        return [name for name, p in self.procs.items() if p.poll() is not None]

    def log_tails(self, lines: int = 30) -> str:
        """The end of every component log, for a failure report."""
        parts = []
        for log in sorted(self.log_dir.glob("*.log")):
            parts.append(f"----- {log.name} (last {lines} lines) -----\n{tail(log, lines)}")
        return "\n".join(parts)

    # -- components ------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> None:
        self.procs[name] = spawn(argv, self.log_dir / f"{name}.log", cwd=self.run_dir)

    def _start_etcd(self) -> None:
        peer = f"http://127.0.0.1:{free_port()}"
        client = f"http://127.0.0.1:{self.etcd_port}"
        self._spawn(
            "etcd",
            [
                str(self.binaries.etcd),
                "--name=default",
                f"--data-dir={self.run_dir / 'etcd-data'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=default={peer}",
                # A test cluster is disposable: skipping fsync makes every API write faster.
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )

    def _start_apiserver(self) -> None:
        assert self.pki is not None
        p = self.pki
        self._spawn(
            "kube-apiserver",
            [
                str(self.binaries.kube_apiserver),
                f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.api_port}",
                f"--cert-dir={self.run_dir / 'apiserver-certs'}",
                f"--tls-cert-file={p.server_cert}",
                f"--tls-private-key-file={p.server_key}",
                f"--client-ca-file={p.ca_cert}",
                # Without a front-proxy CA the controller-manager and scheduler log an error
                # every few seconds; nothing authenticates through the proxy headers.
                f"--requestheader-client-ca-file={p.ca_cert}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                "--authorization-mode=RBAC",
                # As OpenShift and hardened clusters do: setting blockOwnerDeletion needs
                # update rights on the owner's finalizers (the operator's RBAC must say so).
                "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={p.sa_pub}",
                f"--service-account-signing-key-file={p.sa_key}",
                "--api-audiences=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                # The loopback advertise address is not a valid endpoint for the
                # `kubernetes` Service; nothing in-cluster needs it.
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                "--profiling=false",
                "--event-ttl=30m",
            ],
        )

    def _kube_client_flags(self) -> list[str]:
        k = str(self.kubeconfig)
        return [
            f"--kubeconfig={k}",
            f"--authentication-kubeconfig={k}",
            f"--authorization-kubeconfig={k}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
        ]

    def _start_controller_manager(self, port: int) -> None:
        assert self.pki is not None
        p = self.pki
        self._spawn(
            "kube-controller-manager",
            [
                str(self.binaries.kube_controller_manager),
                *self._kube_client_flags(),
                f"--secure-port={port}",
                f"--cert-dir={self.run_dir / 'kcm-certs'}",
                f"--service-account-private-key-file={p.sa_key}",
                f"--root-ca-file={p.ca_cert}",
                f"--cluster-signing-cert-file={p.ca_cert}",
                f"--cluster-signing-key-file={p.ca_key}",
                # Each controller acts as its own ServiceAccount, so RBAC is exercised as in
                # a real cluster (and the token controller must work for that).
                "--use-service-account-credentials=true",
                # Nodes are the agent's fake ones without kubelet heartbeats; the lifecycle
                # controller would taint and evict them.
                "--controllers=*,-node-lifecycle-controller",
            ],
        )

    def _start_scheduler(self, port: int) -> None:
        self._spawn(
            "kube-scheduler",
            [
                str(self.binaries.kube_scheduler),
                *self._kube_client_flags(),
                f"--secure-port={port}",
                f"--cert-dir={self.run_dir / 'scheduler-certs'}",
            ],
        )

    # -- readiness -------------------------------------------------------------------------

    def _ssl_context(self, client_cert: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        assert self.pki is not None
        if client_cert:
            ctx.load_verify_locations(self.pki.ca_cert)
            ctx.load_cert_chain(self.pki.admin_cert, self.pki.admin_key)
        else:  # self-signed serving certs of controller-manager and scheduler
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _wait_http(self, name: str, url: str, deadline: float, client_cert: bool = False) -> None:
        """Polls url until 200, failing early (with the log) if the component exits."""
        ctx = self._ssl_context(client_cert) if url.startswith("https") else None
        last = ""
        while time.monotonic() < deadline:
            proc = self.procs[name]
            if proc.poll() is not None:
                raise ClusterStartError(
                    f"{name} exited with {proc.returncode} during startup:\n"
                    + tail(self.log_dir / f"{name}.log", 60)
                )
            try:
                with urllib.request.urlopen(url, timeout=2, context=ctx) as resp:
                    body = resp.read().decode(errors="replace")
                    if resp.status == 200 and (name != "etcd" or json.loads(body)["health"]):
                        return
            except (urllib.error.URLError, OSError, ValueError) as e:
                last = str(e)
            time.sleep(0.2)
        raise ClusterStartError(
            f"{name} not ready at {url} in time (last error: {last}):\n"
            + tail(self.log_dir / f"{name}.log", 60)
        )
