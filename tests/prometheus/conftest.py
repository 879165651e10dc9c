"""The operator tests' CRD fixture, shared (installs manifests/crds once per session)."""

from tests.operator.conftest import crds  # noqa: F401
