"""The final JSON result an executor reads when a trial ends."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from hypersearch_trainer.metrics import WindowResult, target_summary


def build_result(
    *,
    status: str,
    cfg: dict[str, Any],
    history: list[WindowResult],
    num_windows: int,
    eval_windows: int,
    examples_trained: int,
    wall_time_s: float,
    position: float,
    device: str,
    compute: dict[str, float] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """Assemble the result document (schema in docs/trainer.md)."""
    evaluated = sum(r.examples for r in history)
    return {
        "status": status,
        "error": error,
        **cfg,
        "windows_total": num_windows,
        "position": position,
        "target": target_summary(history, eval_windows, num_windows),
        "examples_trained": examples_trained,
        "examples_evaluated": evaluated,
        "wall_time_s": round(wall_time_s, 3),
        "examples_per_s": round((examples_trained + evaluated) / wall_time_s, 1)
        if wall_time_s > 0
        else None,
        "device": device,
        # the cost (docs/trainer.md): CPU-seconds of the process tree, GPU-seconds; each window
        # below carries the cumulative figures at its end
        "cpu_seconds": round(compute["cpu_seconds"], 3) if compute else None,
        "gpu_seconds": round(compute["gpu_seconds"], 3) if compute else None,
        "windows": [r.as_dict() for r in history],
    }


def _finite(value: Any) -> Any:
    """NaN and infinities (a diverged model) become null: JSON has no NaN, and a diverged run
    must still leave its result for the executor to read."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_result(path: Path, doc: dict[str, Any]) -> None:
    """Write atomically so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_finite(doc), indent=1, allow_nan=False) + "\n")
    os.replace(tmp, path)
