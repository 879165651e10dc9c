"""A trial's plain-data record: what was started, what it reported, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hypersearch.engine.observations import (
    WindowStat,
    decode_window_set,
    decode_windows,
    encode_window_set,
    encode_windows,
)
from hypersearch.spec.model import DataRange, ParamValue


class TrialState(StrEnum):
    RUNNING = "Running"
    STOPPED = "Stopped"
    COMPLETED = "Completed"
    FAILED = "Failed"


@dataclass
class Trial:
    """One run of one configuration. Stage-2 runs are separate trials pointing at their source."""

    id: int
    name: str
    stage: int
    params: dict[str, ParamValue]
    data: DataRange
    state: TrialState = TrialState.RUNNING
    reason: str = ""
    position: float = 0.0
    examples: float = 0.0
    windows: dict[int, WindowStat] = field(default_factory=dict)
    # Completed windows that had no example to score: missing data, never a value.
    empty: set[int] = field(default_factory=set)
    next_check: int = 0
    predicted: float | None = None
    predicted_std: float | None = None
    # The prediction a stop was decided on (``predicted`` is re-made at the end of stage 1
    # from all the windows, so it no longer matches the number the stop reason quotes).
    decision_predicted: float | None = None
    source: int | None = None
    final: float | None = None
    # Compute used so far (None: not known). ``compute_source`` says where it comes from:
    # "trainer" (its counters), "rusage" (the local executor measured the process),
    # "pod-requests" (pod running time x requests, estimated by the operator) or "reused"
    # (a stage-1 run reused as this stage-2 result: nothing ran).
    cpu_seconds: float | None = None
    gpu_seconds: float | None = None
    compute_source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "stage": self.stage,
            "params": dict(self.params),
            "data": self.data.to_dict(),
            "state": self.state.value,
            "reason": self.reason,
            "position": self.position,
            "examples": self.examples,
            "windows": encode_windows(self.windows),
            "empty": encode_window_set(self.empty),
            "nextCheck": self.next_check,
            "predicted": self.predicted,
            "predictedStd": self.predicted_std,
            "decisionPredicted": self.decision_predicted,
            "source": self.source,
            "final": self.final,
            "cpuSeconds": self.cpu_seconds,
            "gpuSeconds": self.gpu_seconds,
            "computeSource": self.compute_source,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Trial:
        return cls(
            id=int(raw["id"]),
            name=str(raw["name"]),
            stage=int(raw["stage"]),
            params=dict(raw["params"]),
            data=DataRange.from_dict(raw["data"]),
            state=TrialState(raw["state"]),
            reason=str(raw["reason"]),
            position=float(raw["position"]),
            examples=float(raw["examples"]),
            windows=decode_windows(raw["windows"]),
            empty=decode_window_set(raw.get("empty")),
            next_check=int(raw["nextCheck"]),
            predicted=raw["predicted"],
            predicted_std=raw["predictedStd"],
            decision_predicted=_optional_float(raw.get("decisionPredicted")),
            source=raw["source"],
            final=raw["final"],
            cpu_seconds=_optional_float(raw.get("cpuSeconds")),
            gpu_seconds=_optional_float(raw.get("gpuSeconds")),
            compute_source=raw.get("computeSource"),
        )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
