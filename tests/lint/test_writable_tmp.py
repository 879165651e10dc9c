"""A container with a read-only root filesystem still needs a writable /tmp: the operator
imports matplotlib (the report) and uses tempfile, and crash-loops without one on a real node
(found by running manifests/deployment.yaml under a kubelet; the test node agent ignores
readOnlyRootFilesystem)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]


def deployments() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted((REPO / "manifests").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "Deployment":
                out.append((str(path.relative_to(REPO)), doc))
    return out


def test_read_only_containers_mount_a_writable_tmp() -> None:
    found = deployments()
    assert found, "no Deployment under manifests/"
    for path, doc in found:
        pod = doc["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes") or []}
        for c in pod["containers"]:
            if not (c.get("securityContext") or {}).get("readOnlyRootFilesystem"):
                continue
            mounts = {m["mountPath"]: m for m in c.get("volumeMounts") or []}
            assert "/tmp" in mounts, f"{path}: container {c['name']} has no writable /tmp"
            volume = volumes[mounts["/tmp"]["name"]]
            assert "emptyDir" in volume and not mounts["/tmp"].get("readOnly"), (path, volume)
