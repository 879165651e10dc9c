"""The documented install paths, end to end, with the real images on a real kubelet.

README's two ways in: `kubectl apply -f manifests/crds/ -f manifests/` and `helm install` of
charts/hypersearch. Each brings up the operator Deployment from the operator image built by
scripts/build-images.sh (Ready, Lease held, /metrics served); the kubectl path's operator then
runs manifests/examples/search.yaml to Succeeded in trial pods of the trainer image. Both then
uninstall, leaving no pod, container, task or volume mount on the node. The last test stops the
node and checks that no process, mount, pod cgroup or bridge is left on the machine.

What the test changes, never in the shipped files (docs/testing.md, "Install tests"):
- the images: the locally built ones (tag = content key) with imagePullPolicy Never;
- hostNetwork plus KUBERNETES_SERVICE_HOST/PORT for the operator: the test API server listens
  on loopback only and there is no kube-proxy, so a pod-network pod cannot reach it; with
  hostNetwork the metrics port is the host's, so a free one is chosen;
- one replica (hostNetwork: two would want the same port on the one node).
The node is cordoned while the Deployment is created and patched, so no pod ever tries to pull
the shipped ghcr.io reference (no test may pull from a public registry).
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.cluster import REPO_ROOT
from tests.install.node import NODE, NODE_DIR, RealNode, free_port, wait_for

SEARCH = REPO_ROOT / "manifests" / "examples" / "search.yaml"
# Deadlines (s): generous, the CI machine's two cores are shared with other jobs.
READY_S = 600
SEARCH_S = 1500
CLEAN_S = 300
# Cold, the first test also pays the image builds and the kubelet build (tests/install/node.py).
pytestmark = pytest.mark.timeout(7200)


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
    assert status["image"] == node.images.operator, status
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


def run_example_search(node: RealNode, port: int) -> None:
    """manifests/examples/search.yaml with the trainer image, to Succeeded; every trial pod
    on the node, running the trainer image, and the operator scraped them."""
    ns = f"e2e-search-{uuid.uuid4().hex[:6]}"
    node.kubectl("create", "namespace", ns)
    search = yaml.safe_load(SEARCH.read_text())
    (container,) = search["spec"]["trialTemplate"]["spec"]["containers"]
    container["image"] = node.images.trainer
    container["imagePullPolicy"] = "Never"
    node.kubectl("-n", ns, "create", "-f", "-", input=yaml.safe_dump(search))
    name = search["metadata"]["name"]
    seen: dict[str, dict[str, Any]] = {}

    def done() -> str | None:
        for p in node.kubectl_json("-n", ns, "get", "pods")["items"]:
            seen[p["metadata"]["name"]] = p
        got = node.kubectl_json("-n", ns, "get", "hypersearches.hypersearch.dev", name)
        phase = got.get("status", {}).get("phase")
        if phase in ("Failed", "Invalid"):
            raise AssertionError(f"search {phase}: {json.dumps(got['status'])[:3000]}")
        return phase if phase == "Succeeded" else None

    began = time.monotonic()
    wait_for(done, SEARCH_S, f"search {ns}/{name} Succeeded", every=3)
    print(f"search {ns}/{name} Succeeded in {time.monotonic() - began:.0f}s, {len(seen)} pods")
    trials = node.kubectl_json("-n", ns, "get", "trials.hypersearch.dev")["items"]
    assert trials, "the search made no Trial"
    assert seen, "no trial pod seen"
    finished = 0
    for pod_name, pod in seen.items():
        assert pod["spec"].get("nodeName") in (None, NODE), (pod_name, pod["spec"]["nodeName"])
        (c,) = pod["spec"]["containers"]
        assert c["image"] == node.images.trainer, (pod_name, c["image"])
        for s in pod.get("status", {}).get("containerStatuses", []):
            assert s["image"] == node.images.trainer, (pod_name, s)
            term = s.get("state", {}).get("terminated")
            if term and term.get("exitCode") == 0:
                finished += 1
    assert finished, f"no trial container seen exiting 0 among {sorted(seen)}"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        body = r.read().decode()
    assert 'hypersearch_operator_scrapes_total{result="ok"}' in body, "no trainer was scraped"
    # The operator's finalizer must come off while the operator still runs.
    node.kubectl("delete", "namespace", ns, "--timeout=300s", timeout=330)


def test_kubectl_apply_install_runs_the_example_search(real_node: RealNode) -> None:
    node = real_node
    ns, deployment, port = "hypersearch-system", "hypersearch-operator", free_port()
    manifests = ["-f", "manifests/crds/", "-f", "manifests/"]
    cordon(node, True)
    try:
        node.kubectl("apply", *manifests)
        patch = [
            {"op": "replace", "path": "/spec/replicas", "value": 1},
            {"op": "add", "path": "/spec/template/spec/hostNetwork", "value": True},
        ]
        c = "/spec/template/spec/containers/0"
        patch += [
            {"op": "replace", "path": f"{c}/image", "value": node.images.operator},
            {"op": "add", "path": f"{c}/imagePullPolicy", "value": "Never"},
            {"op": "replace", "path": f"{c}/args", "value": ["--metrics-port", str(port)]},
            {"op": "replace", "path": f"{c}/ports/0/containerPort", "value": port},
        ]
        patch += [{"op": "add", "path": f"{c}/env/-", "value": e} for e in operator_env(node)]
        node.kubectl(
            "-n", ns, "patch", "deployment", deployment, "--type=json", "-p", json.dumps(patch)
        )
    finally:
        cordon(node, False)
    operator_up(node, ns, deployment, "hypersearch-operator", port)
    run_example_search(node, port)
    node.kubectl("delete", *manifests, "--timeout=300s", timeout=330)
    node.wait_clean(CLEAN_S)


def test_helm_install_operator_ready_and_leading(real_node: RealNode) -> None:
    """The chart's operator from the real image: Ready (its probes on /metrics), leading,
    serving metrics; uninstalled with nothing left. (tests/chart already runs a search through
    the chart's RBAC under the process agent; a second real-image search here would add about
    2 minutes to every run for little more.)"""
    node = real_node
    ns, release, port = "hypersearch-helm", "hypersearch", free_port()
    repository, tag = node.images.operator.rsplit(":", 1)
    cordon(node, True)
    try:
        node.cluster.helm(
            "install", release, str(REPO_ROOT / "charts" / "hypersearch"),
            "-n", ns, "--create-namespace",
            f"--set=image.repository={repository}", f"--set=image.tag={tag}",
            "--set=image.pullPolicy=Never", f"--set=metrics.port={port}",
            f"--set-json=extraEnv={json.dumps(operator_env(node))}",
        )  # fmt: skip
        # The chart has no hostNetwork value (a production operator needs none).
        patch = {"spec": {"template": {"spec": {"hostNetwork": True}}}}
        node.kubectl("-n", ns, "patch", "deployment", release, "-p", json.dumps(patch))
    finally:
        cordon(node, False)
    operator_up(node, ns, release, release, port)
    node.cluster.helm("uninstall", release, "-n", ns, "--wait", "--timeout=300s")
    # helm never deletes the CRDs of a chart's crds/ directory: that is the user's step.
    node.kubectl("delete", "-f", "charts/hypersearch/crds/", "--timeout=300s", timeout=330)
    node.kubectl("delete", "namespace", ns, "--timeout=300s", timeout=330)
    node.wait_clean(CLEAN_S)


def test_node_down_leaves_nothing(real_node: RealNode) -> None:
    """After `real-node.sh down`: no kubelet/containerd/shim processes of the node, no mounts
    under its directory, no pod cgroups, no bridge."""
    real_node.down()
    node_dir = str(NODE_DIR)
    with open("/proc/self/mounts") as f:
        mounts = [line.split()[1] for line in f if node_dir in line.split()[1]]
    assert not mounts, mounts
    procs = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if node_dir in cmd:
                procs.append(f"{p.name}: {cmd[:200]}")
    assert not procs, procs
    cgroups = [str(c) for c in Path("/sys/fs/cgroup").glob("*/kubepods/*")]
    assert not cgroups, cgroups[:20]
    assert not Path("/sys/class/net/hs-cni0").exists(), "bridge hs-cni0 left"
