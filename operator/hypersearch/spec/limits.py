"""Size limits of a search, so that no tenant's spec can exhaust the operator's memory.

The CRD states each bound (``maximum``, ``maxItems``, ``maxLength``, and CEL rules for
products the OpenAPI schema cannot express); the API server enforces them. This module checks
the CEL rules again for manifests that never reach a cluster and for the operator's own re-check
(tests compare both against the API server). Every error names the field at fault.
"""

from __future__ import annotations

from typing import Any

from hypersearch.spec.errors import SpecError

# A trial is named <search>-<id>, a full-training run <search>-<id>-full, with ids below
# trials + topK <= 10,100; each name is also a label value (63 characters at most).
MAX_NAME_LENGTH = 52
MAX_TRIAL_WINDOWS = 1_000_000  # records the operator may keep: trials x windows
MAX_GRID_AXIS = 10_000  # grid points one stepped parameter may have


def limit_errors(document: dict[str, Any]) -> list[SpecError]:
    """The CRD's CEL limits on a defaulted HyperSearch document."""
    errors: list[SpecError] = []
    name = str((document.get("metadata") or {}).get("name") or "")
    if len(name) > MAX_NAME_LENGTH:
        errors.append(
            SpecError(
                "metadata.name",
                f"at most {MAX_NAME_LENGTH} characters (got {len(name)}), so that every child "
                f"name (<name>-10099-full) fits a 63-character label",
            )
        )
    spec = document.get("spec") or {}
    trials = int(spec.get("trials") or 0)
    windows = int((spec.get("stream") or {}).get("windows") or 0)
    if trials * windows > MAX_TRIAL_WINDOWS:
        errors.append(
            SpecError(
                "spec.trials",
                f"spec.trials x spec.stream.windows = {trials * windows:,} exceeds "
                f"{MAX_TRIAL_WINDOWS:,} (the operator keeps a record per trial and window)",
            )
        )
    for i, p in enumerate(spec.get("parameters") or []):
        lo, hi, step = p.get("min"), p.get("max"), p.get("step")
        if None in (lo, hi, step) or step <= 0:
            continue
        if (hi - lo) / step > MAX_GRID_AXIS:
            errors.append(
                SpecError(
                    f"spec.parameters[{i}].step",
                    f"a grid step gives at most {MAX_GRID_AXIS:,} points per parameter",
                )
            )
    return errors


__all__ = ["MAX_GRID_AXIS", "MAX_NAME_LENGTH", "MAX_TRIAL_WINDOWS", "limit_errors"]
