"""Finds the control-plane binaries built by tests/k8s/build.sh.

Resolution order per binary: its own env var (e.g. HYPERSEARCH_KUBE_APISERVER), then
HYPERSEARCH_K8S_BIN/<name>, then the build cache keyed by the pins in tests/k8s/go/go.mod.
A missing binary raises: tests must fail, never skip, when the cluster cannot be built.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

K8S_DIR = Path(__file__).resolve().parent.parent / "k8s"
NAMES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "helm")


class MissingBinaryError(RuntimeError):
    """A control-plane binary is neither built nor pointed to by an env var."""


def env_var(name: str) -> str:
    """HYPERSEARCH_KUBE_APISERVER for kube-apiserver, and so on."""
    return "HYPERSEARCH_" + name.upper().replace("-", "_")


def cache_dir() -> Path:
    """Where build.sh puts the binaries for the current pins."""
    spec = importlib.util.spec_from_file_location("_hs_cache_key", K8S_DIR / "cache_key.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    base = Path(os.environ.get("HYPERSEARCH_CACHE", Path.home() / ".cache" / "hypersearch"))
    key: str = module.cache_key()
    return base / key / "bin"


@dataclass(frozen=True)
class Binaries:
    """Absolute paths of the binaries a test cluster runs."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    helm: Path

    @classmethod
    def find(cls) -> Binaries:
        """Resolves every binary or raises MissingBinaryError naming how to get it."""
        shared = os.environ.get("HYPERSEARCH_K8S_BIN")
        default = cache_dir()
        found: dict[str, Path] = {}
        missing: list[str] = []
        for name in NAMES:
            own = os.environ.get(env_var(name))
            path = Path(own) if own else Path(shared or default) / name
            if path.is_file() and os.access(path, os.X_OK):
                found[name.replace("-", "_")] = path.resolve()
            else:
                missing.append(f"{name} (looked at {path})")
        if missing:
            raise MissingBinaryError(
                "control-plane binaries missing: "
                + "; ".join(missing)
                + ". Build them with `source tests/k8s/build.sh` or set HYPERSEARCH_K8S_BIN."
            )
        return cls(**found)
