"""Prints the cache directory name for the pinned control-plane binaries.

Shared by build.sh and tests/cluster/binaries.py so both agree on where the binaries live.
"""

import hashlib
import sys
from pathlib import Path

GO_DIR = Path(__file__).resolve().parent / "go"
PINNED = {
    "k8s.io/kubernetes": "k8s",
    "go.etcd.io/etcd/server/v3": "etcd",
    "helm.sh/helm/v3": "helm",
}
# Files whose content decides the build: the pins, the etcd main and the build flags.
INPUTS = ("go.mod", "go.sum", "cmd/etcd/main.go", "../build.sh")


def cache_key() -> str:
    """Versions for humans, plus a hash of the inputs so any pin or flag change rebuilds."""
    versions: dict[str, str] = {}
    for line in (GO_DIR / "go.mod").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in PINNED and parts[1].startswith("v"):
            versions.setdefault(PINNED[parts[0]], parts[1])
    digest = hashlib.sha256()
    for name in INPUTS:
        digest.update((GO_DIR / name).read_bytes())
    label = "_".join(f"{short}-{versions[short]}" for short in PINNED.values())
    return f"{label}_{digest.hexdigest()[:12]}"


if __name__ == "__main__":
    sys.stdout.write(cache_key() + "\n")
