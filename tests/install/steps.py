"""Steps the install tests share: the operator brought up by either install path, a search run
to Succeeded in trial pods of the trainer image, and a watch on the files pods open.

What the tests change at install time, never in the shipped files (docs/testing.md, "Install
tests"):
- the images: the locally built ones (tag = content key) with imagePullPolicy Never;
- hostNetwork plus KUBERNETES_SERVICE_HOST/PORT for the operator: the test API server listens
  on loopback only and there is no kube-proxy, so a pod-network pod cannot reach it; with
  hostNetwork the metrics port is the host's, so a free one is chosen;
- one replica (hostNetwork: two would want the same port on the one node).
The node is cordoned while the Deployment is created and patched, so no pod ever tries to pull
the shipped ghcr.io reference (no test may pull from a public registry).
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from tests.cluster.cluster import REPO_ROOT
from tests.install.node import NODE, RealNode, wait_for

# Deadlines (s): generous, the CI machine's two cores are shared with other jobs.
READY_S = 600
SEARCH_S = 1500
CLEAN_S = 300
CHART = REPO_ROOT / "charts" / "hypersearch"


def operator_env(node: RealNode) -> list[dict[str, str]]:
    return [
        {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
        {"name": "KUBERNETES_SERVICE_PORT", "value": node.api_port},
    ]


def cordon(node: RealNode, on: bool) -> None:
    node.kubectl("cordon" if on else "uncordon", NODE)


def operator_up(node: RealNode, namespace: str, deployment: str, lease: str, port: int) -> str:
    """Waits for the Deployment's one pod to be Ready on the node with the operator image,
    for it to hold the Lease and to serve /metrics saying so; returns the pod's name."""

    def ready_pod() -> dict[str, Any] | None:
        dep = node.kubectl_json("-n", namespace, "get", "deployment", deployment)
        if dep.get("status", {}).get("readyReplicas") != 1:
            return None
        selector = ",".join(f"{k}={v}" for k, v in dep["spec"]["selector"]["matchLabels"].items())
        pods = node.kubectl_json("-n", namespace, "get", "pods", "-l", selector)["items"]
        ready = [
            p
            for p in pods
            if p["metadata"].get("deletionTimestamp") is None
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions", [])
            )
        ]
        return ready[0] if len(ready) == 1 and len(pods) == 1 else None

    began = time.monotonic()
    pod = wait_for(ready_pod, READY_S, f"deployment {namespace}/{deployment} Ready", every=2)
    name = pod["metadata"]["name"]
    assert pod["spec"]["nodeName"] == NODE
    (status,) = pod["status"]["containerStatuses"]
    node.images.assert_runs("operator", status)
    assert status["ready"] and status["restartCount"] == 0, status

    def holder() -> str | None:
        got = node.kubectl("-n", namespace, "get", "lease", lease, "-o", "json", check=False)
        if got.returncode != 0:
            return None
        return json.loads(got.stdout)["spec"].get("holderIdentity") or None

    identity = wait_for(holder, 120, f"lease {namespace}/{lease} held", every=2)
    assert name in identity, f"lease held by {identity}, not by the pod {name}"

    def metrics() -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                body = str(r.read().decode())
        except OSError:
            return None
        return body if f'hypersearch_operator_leader{{lease="{lease}"}} 1.0' in body else None

    wait_for(
        metrics, 120, f"/metrics with hypersearch_operator_leader{{lease={lease!r}}} 1", every=2
    )
    print(f"operator {namespace}/{name} Ready, leading, metrics: {time.monotonic() - began:.0f}s")
    return name


def helm_install(node: RealNode, namespace: str, release: str, port: int) -> None:
    """`helm install` of charts/hypersearch with the local operator image (the node cordoned
    meanwhile), patched to the host network, and the operator up."""
    repository, tag = node.images.operator.rsplit(":", 1)
    cordon(node, True)
    try:
        node.cluster.helm(
            "install", release, str(CHART), "-n", namespace, "--create-namespace",
            f"--set=image.repository={repository}", f"--set=image.tag={tag}",
            "--set=image.pullPolicy=Never", f"--set=metrics.port={port}",
            f"--set-json=extraEnv={json.dumps(operator_env(node))}",
        )  # fmt: skip
        # The chart has no hostNetwork value (a production operator needs none).
        patch = {"spec": {"template": {"spec": {"hostNetwork": True}}}}
        node.kubectl("-n", namespace, "patch", "deployment", release, "-p", json.dumps(patch))
    finally:
        cordon(node, False)
    operator_up(node, namespace, release, release, port)


def helm_uninstall(node: RealNode, namespace: str, release: str) -> None:
    node.cluster.helm("uninstall", release, "-n", namespace, "--wait", "--timeout=300s")
    # helm never deletes the CRDs of a chart's crds/ directory: that is the user's step.
    # (The trailing slash: crds/ is a link to manifests/crds, which kubectl does not follow.)
    node.kubectl("delete", "-f", f"{CHART}/crds/", "--timeout=300s", timeout=330)
    node.kubectl("delete", "namespace", namespace, "--timeout=300s", timeout=330)


def trainer_image(node: RealNode, search: dict[str, Any]) -> None:
    """The trial container's image: the locally built trainer, never pulled."""
    (container,) = search["spec"]["trialTemplate"]["spec"]["containers"]
    container["image"] = node.images.trainer
    container["imagePullPolicy"] = "Never"


def run_search(
    node: RealNode, namespace: str, search: dict[str, Any], port: int, every: float = 3
) -> dict[str, dict[str, Any]]:
    """Creates `search` in `namespace` and waits for Succeeded (Failed or Invalid fail at
    once); checks every trial pod ran on the node with the trainer image, one exited 0, there
    are Trial records and the operator scraped trainers. Returns the pods seen, by name."""
    node.kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(search))
    name = search["metadata"]["name"]
    seen: dict[str, dict[str, Any]] = {}

    def done() -> str | None:
        for p in node.kubectl_json("-n", namespace, "get", "pods")["items"]:
            seen[p["metadata"]["name"]] = p
        got = node.kubectl_json("-n", namespace, "get", "hypersearches.hypersearch.dev", name)
        phase = got.get("status", {}).get("phase")
        if phase in ("Failed", "Invalid"):
            raise AssertionError(f"search {phase}: {json.dumps(got['status'])[:3000]}")
        return phase if phase == "Succeeded" else None

    began = time.monotonic()
    wait_for(done, SEARCH_S, f"search {namespace}/{name} Succeeded", every=every)
    took = time.monotonic() - began
    print(f"search {namespace}/{name} Succeeded in {took:.0f}s, {len(seen)} pods")
    trials = node.kubectl_json("-n", namespace, "get", "trials.hypersearch.dev")["items"]
    assert trials, "the search made no Trial"
    trial_pods = {
        n: p
        for n, p in seen.items()
        if p["metadata"].get("labels", {}).get("hypersearch.dev/search") == name
    }
    assert trial_pods, f"no trial pod seen among {sorted(seen)}"
    finished = 0
    for pod_name, pod in trial_pods.items():
        assert pod["spec"].get("nodeName") in (None, NODE), (pod_name, pod["spec"]["nodeName"])
        (c,) = pod["spec"]["containers"]
        assert c["image"] == node.images.trainer, (pod_name, c["image"])
        for s in pod.get("status", {}).get("containerStatuses", []):
            node.images.assert_runs("trainer", s)
            term = s.get("state", {}).get("terminated")
            if term and term.get("exitCode") == 0:
                finished += 1
    assert finished, f"no trial container seen exiting 0 among {sorted(trial_pods)}"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        body = r.read().decode()
    assert 'hypersearch_operator_scrapes_total{result="ok"}' in body, "no trainer was scraped"
    return trial_pods


class OpenWatch:
    """The names of the files opened in one directory, by any process of this machine (inotify
    IN_OPEN on the directory's inodes: a container's opens through a bind mount of it count)."""

    IN_OPEN = 0x20
    IN_Q_OVERFLOW = 0x4000

    def __init__(self, directory: Path) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if self.libc.inotify_add_watch(self.fd, str(directory).encode(), self.IN_OPEN) < 0:
            err = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(err, f"inotify_add_watch {directory}")
        self.opened: Counter[str] = Counter()
        self.overflowed = False

    def poll(self) -> None:
        """Reads the events queued so far (the kernel keeps up to max_queued_events)."""
        while True:
            try:
                buf = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            at = 0
            while at < len(buf):
                _, mask, _, length = struct.unpack_from("iIII", buf, at)
                name = buf[at + 16 : at + 16 + length].rstrip(b"\0").decode()
                if mask & self.IN_Q_OVERFLOW:
                    self.overflowed = True
                elif name:
                    self.opened[name] += 1
                at += 16 + length

    def close(self) -> None:
        os.close(self.fd)
