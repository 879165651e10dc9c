"""Shared pytest configuration: the real-cluster fixtures (see tests/cluster/fixtures.py)."""

pytest_plugins = ["tests.cluster.fixtures"]
