"""The state directory: the engine's state plus what only the local runner knows, saved atomically.

The engine's decisions are deterministic given its calls, so saving ``to_state()`` after every
change is enough for ``--resume`` to continue with identical decisions for what was decided.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from hypersearch.report.files import write_json_atomic
from hypersearch.spec.model import SearchSpec

STATE_FILE = "state.json"
RUNNER_STATE_VERSION = 1

__all__ = ["RUNNER_STATE_VERSION", "STATE_FILE", "load_state", "spec_digest", "write_json_atomic"]


def spec_digest(spec: SearchSpec) -> str:
    """What must not change between a run and its resume (parallelism may)."""
    stable = dataclasses.replace(spec, parallelism=1, stage2_parallelism=1)
    return hashlib.sha256(repr(stable).encode()).hexdigest()[:16]


def load_state(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / STATE_FILE
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data
