"""The state directory: the engine's state plus what only the local runner knows, saved atomically.

The engine's decisions are deterministic given its calls, so saving ``to_state()`` after every
change is enough for ``--resume`` to continue with identical decisions for what was decided.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Any

from hypersearch.report.files import write_json_atomic
from hypersearch.spec.model import SearchSpec

STATE_FILE = "state.json"
RUNNER_STATE_VERSION = 1

__all__ = [
    "RUNNER_STATE_VERSION",
    "STATE_FILE",
    "StateFileError",
    "canonical_spec",
    "digest_matches",
    "load_state",
    "spec_digest",
    "write_json_atomic",
]


class StateFileError(ValueError):
    """``state.json`` exists but cannot be used; the message names the file and what to do."""


def _canonical(value: Any) -> Any:
    """Plain JSON data for ``value``; a dataclass keeps only the fields that differ from their
    defaults (recursively, and a nested dataclass left with nothing is dropped), so a field
    added with a default in a later version leaves an existing spec's form unchanged."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if f.default is not dataclasses.MISSING and v == f.default:
                continue
            if f.default_factory is not dataclasses.MISSING and v == f.default_factory():
                continue
            c = _canonical(v)
            if c == {} and dataclasses.is_dataclass(v):
                continue  # every field at its default: as if the field did not exist
            out[f.name] = c
        return out
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        x = float(value)  # 1 and 1.0 are the same bound; the spec's integers are far below 2**53
        return x if math.isfinite(x) else repr(x)
    return repr(value)


def canonical_spec(spec: SearchSpec) -> str:
    """The spec as canonical JSON, without defaulted values and without what may change between
    a run and its resume (the parallelism)."""
    data = _canonical(spec)
    data.pop("parallelism", None)
    data.pop("stage2_parallelism", None)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def spec_digest(spec: SearchSpec) -> str:
    """What must not change between a run and its resume (parallelism may).

    A digest of :func:`canonical_spec`: an upgrade that adds a spec field with a default does not
    change it, so ``--resume`` accepts a state written before the upgrade.
    """
    return hashlib.sha256(canonical_spec(spec).encode()).hexdigest()[:16]


def _legacy_digest(spec: SearchSpec) -> str:
    """The digest of state files written before :func:`canonical_spec` (of the dataclass repr)."""
    stable = dataclasses.replace(spec, parallelism=1, stage2_parallelism=1)
    return hashlib.sha256(repr(stable).encode()).hexdigest()[:16]


def digest_matches(saved: Any, spec: SearchSpec) -> bool:
    """Was a state with digest ``saved`` written for ``spec``? Also accepts the older form."""
    return isinstance(saved, str) and saved in (spec_digest(spec), _legacy_digest(spec))


def load_state(state_dir: Path) -> dict[str, Any] | None:
    """The saved state of ``state_dir``; None when there is none.

    Raises:
        StateFileError: ``state.json`` exists but cannot be read or is not a JSON object (a
            disk filled up, a hand edit); the message names the file.
    """
    path = state_dir / STATE_FILE
    if not path.exists():
        return None
    what_now = (
        "restore it, or move it away (or choose another --state-dir) to start the search again"
    )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise StateFileError(f"{path}: cannot read the saved search ({why}); {what_now}") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise StateFileError(
            f"{path}: the saved search is corrupt, not valid JSON ({e.msg} at line {e.lineno}, "
            f"column {e.colno}); {what_now}"
        ) from e
    if not isinstance(data, dict):
        raise StateFileError(
            f"{path}: the saved search is corrupt (a JSON {type(data).__name__}, not an object); "
            f"{what_now}"
        )
    return data
