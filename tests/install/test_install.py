"""The documented install paths, end to end, with the real images on a real kubelet.

README's two ways in: `kubectl apply -f manifests/crds/ -f manifests/` (here) and `helm install`
of charts/hypersearch (tests/install/test_data.py: the chart's operator runs the flights-3m
search on the data claim of manifests/examples/data.yaml). This path's operator Deployment, from
the operator image built by scripts/build-images.sh, must be Ready, hold its Lease and serve
/metrics, then run manifests/examples/search.yaml to Succeeded in trial pods of the trainer
image; uninstalled, it leaves no pod, container, task or volume mount on the node. The last test
stops the node and checks that no process, mount, pod cgroup or bridge is left on the machine.
What the tests change at install time, and why: tests/install/steps.py.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml

from tests.cluster.cluster import REPO_ROOT
from tests.install.node import NODE_DIR, RealNode, free_port
from tests.install.steps import (
    CLEAN_S,
    cordon,
    operator_env,
    operator_up,
    run_search,
    trainer_image,
)

SEARCH = REPO_ROOT / "manifests" / "examples" / "search.yaml"
# Cold, the first test also pays the image builds and the kubelet build (tests/install/node.py).
pytestmark = pytest.mark.timeout(7200)


def run_example_search(node: RealNode, port: int) -> None:
    """manifests/examples/search.yaml with the trainer image, to Succeeded; every trial pod
    on the node, running the trainer image, and the operator scraped them."""
    ns = f"e2e-search-{uuid.uuid4().hex[:6]}"
    node.kubectl("create", "namespace", ns)
    search = yaml.safe_load(SEARCH.read_text())
    trainer_image(node, search)
    run_search(node, ns, search, port)
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
