"""JSON documents: atomic files (a reader, or a resumed run, never sees a half-written one), and
finite numbers only (``Infinity``/``NaN`` are not JSON: other readers and the API server refuse
them)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

NON_FINITE_REASON = "not a finite number (a sum or mean beyond the floating-point range, or NaN)"


def finite_json(data: Any, path: str = "") -> tuple[Any, list[str]]:
    """``data`` with every non-finite float replaced by None, and the paths replaced
    (``trials[3].final``), so the document is strict JSON and says what it dropped."""
    if isinstance(data, float):
        return (data, []) if math.isfinite(data) else (None, [path or "<root>"])
    if isinstance(data, dict):
        out: dict[Any, Any] = {}
        bad: list[str] = []
        for key, value in data.items():
            out[key], b = finite_json(value, f"{path}.{key}" if path else str(key))
            bad += b
        return out, bad
    if isinstance(data, list | tuple):
        items, bad = [], []
        for i, value in enumerate(data):
            v, b = finite_json(value, f"{path}[{i}]")
            items.append(v)
            bad += b
        return items, bad
    return data, []


def finite_document(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` with finite numbers only; what was replaced by null is listed in
    ``nonFinite`` (``fields`` and the ``reason``), added to any list already there."""
    clean, bad = finite_json(document)
    if bad:
        before = clean.get("nonFinite") or {}
        fields = [*before.get("fields", []), *bad]
        clean["nonFinite"] = {"fields": fields, "reason": before.get("reason", NON_FINITE_REASON)}
    out: dict[str, Any] = clean
    return out


def write_json_atomic(path: Path, data: Any, indent: int | None = 1) -> None:
    """Write to a temp file in the same directory, fsync, rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=indent, separators=None if indent else (",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
