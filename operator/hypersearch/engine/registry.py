"""Policies are chosen by name from the spec (as Optuna's pruners): one lookup for every kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


def lookup(registry: Mapping[str, T], name: str, what: str) -> T:
    """The entry ``name`` of a policy registry; an unknown name is a ValueError listing the known
    ones (the spec's schema already refuses it, so this guards programmatic use)."""
    try:
        return registry[name]
    except KeyError:
        known = ", ".join(registry)
        raise ValueError(f"unknown {what} {name!r}; known: {known}") from None


__all__ = ["lookup"]
