"""The executor's half of the control protocol, the same for processes and pods.

What a trainer is told besides the engine's trial environment (:func:`trial_env`): where to
serve metrics, where to checkpoint and write its result, how long to linger once done; and the
``{{params.NAME}}`` substitution in templates. ``docs/design.md`` describes the protocol.
"""

from __future__ import annotations

from hypersearch.spec.model import ParamValue
from hypersearch.spec.semantic import PARAM_REFERENCE

# A finished trainer keeps serving this many scrape intervals (+5 s), so its last windows are read.
LINGER_INTERVALS = 3


class TemplateError(ValueError):
    """A trial or workload template cannot be turned into a process or an object."""


def substitute(text: str, params: dict[str, ParamValue]) -> str:
    """Replace ``{{params.NAME}}`` by the parameter's value."""

    def value(m: object) -> str:
        key = m.group(1)  # type: ignore[attr-defined]
        if key not in params:
            raise TemplateError(f"args reference {{{{params.{key}}}}}, not a parameter")
        return str(params[key])

    return PARAM_REFERENCE.sub(value, text)


def linger_seconds(interval: float) -> float:
    return round(LINGER_INTERVALS * interval + 5, 1)


def executor_env(
    port: int, checkpoint_dir: str, result_file: str, interval: float
) -> dict[str, str]:
    """HS_METRICS_PORT, HS_METRICS_LINGER, HS_CHECKPOINT_DIR and HS_RESULT_FILE (the metrics
    host is the executor's own: 127.0.0.1 locally, the pod's IP in a cluster)."""
    return {
        "HS_METRICS_PORT": str(port),
        "HS_METRICS_LINGER": str(linger_seconds(interval)),
        "HS_CHECKPOINT_DIR": checkpoint_dir,
        "HS_RESULT_FILE": result_file,
    }


__all__ = ["TemplateError", "executor_env", "linger_seconds", "substitute"]
