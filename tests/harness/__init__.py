"""Tests of the test harness itself: the real control plane and the node agent."""
