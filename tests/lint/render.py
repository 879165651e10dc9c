"""`helm template` of the chart without a cluster (the pinned helm of tests/k8s/build.sh)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.cluster.binaries import K8S_DIR, Binaries
from tests.lint.dockerfile import REPO

CHART = REPO / "charts" / "hypersearch"
RELEASE, NAMESPACE = "hypersearch", "hypersearch-system"
Obj = dict[str, Any]


def kubernetes_version() -> str:
    """The Kubernetes version the test control plane runs (tests/k8s/go/go.mod)."""
    gomod = (K8S_DIR / "go" / "go.mod").read_text()
    m = re.search(r"^\s*k8s\.io/kubernetes v(\d+\.\d+\.\d+)", gomod, re.M)
    assert m, "tests/k8s/go/go.mod pins no k8s.io/kubernetes"
    return m.group(1)


def helm_template(tmp: Path, *args: str) -> list[Obj]:
    """The chart rendered as release RELEASE in NAMESPACE; empty documents dropped."""
    helm = Binaries.find().helm  # missing: MissingBinaryError, a failure (never a skip)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp)}
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[var] = str(tmp / "helm" / var.lower())
    out = subprocess.run([str(helm), "template", RELEASE, str(CHART), "-n", NAMESPACE,
                          "--kube-version", kubernetes_version(), *args],
                         capture_output=True, text=True, env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]
