"""Fixtures of the trainer tests (helpers live in helpers.py)."""

from tests.trainer.helpers import tiny

__all__ = ["tiny"]
