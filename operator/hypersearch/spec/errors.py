"""Spec errors that name the field at fault, so a user can fix a manifest in one pass."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class SpecError:
    """One problem with a manifest: the field path (``spec.parameters[2].min``) and the rule."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SpecInvalid(ValueError):
    """Raised with every error found, not just the first."""

    def __init__(self, errors: list[SpecError], source: str = "") -> None:
        self.errors = sorted(set(errors))
        self.source = source
        prefix = f"{source}: " if source else ""
        lines = "\n".join(f"  {prefix}{e}" for e in self.errors)
        super().__init__(f"invalid HyperSearch ({len(self.errors)} error(s)):\n{lines}")


def join_path(base: str, part: str | int) -> str:
    """Extend a field path the way kubectl prints it: ``a.b[3].c``."""
    if isinstance(part, int):
        return f"{base}[{part}]"
    return f"{base}.{part}" if base else part
