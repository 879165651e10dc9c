"""A real Kubernetes control plane and a process-based node agent for tests."""

from tests.cluster.binaries import Binaries, MissingBinaryError
from tests.cluster.cluster import Cluster

__all__ = ["Binaries", "Cluster", "MissingBinaryError"]
