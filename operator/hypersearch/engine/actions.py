"""What the engine asks an executor to do; one small immutable value per decision."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypersearch.spec.model import DataRange, ParamValue


@dataclass(frozen=True)
class StartTrial:
    """Start a run: stage 1 (screening on reduced data) or stage 2 (full training of a winner).

    ``env`` is the control protocol (HS_PARAM_*, HS_DATA_*, HS_SEED, HS_TRIAL, HS_STAGE); the
    executor adds what only it knows (metrics port, checkpoint directory).
    ``params`` is the configuration (what results and events name); ``run_params`` the params
    the trainer runs with where they differ (a stage-1 run transformed for its data rate,
    ``spec.stage1.transfer``): ``{{params.NAME}}`` substitution uses :attr:`trainer_params`.
    """

    trial: int
    name: str
    stage: int
    params: dict[str, ParamValue]
    data: DataRange
    env: dict[str, str] = field(default_factory=dict)
    run_params: dict[str, ParamValue] | None = None

    @property
    def trainer_params(self) -> dict[str, ParamValue]:
        """The params the trainer runs with (substituted into templates and commands)."""
        return self.params if self.run_params is None else self.run_params


@dataclass(frozen=True)
class StopTrial:
    """Stop a running trial; ``reason`` is for people (status, events, the progress display)."""

    trial: int
    name: str
    reason: str
    failed: bool = False


@dataclass(frozen=True)
class ReuseRun:
    """A stage-2 trial that needs no run: its source's stage-1 run already trained on exactly
    the full-training data (same windows, rate and seed, every window scored in full), so its
    result is the full result.
    The executor records the trial (it is already Completed); nothing is started."""

    trial: int
    name: str
    source: int
    reason: str


@dataclass(frozen=True)
class Finish:
    """The search is over: succeeded with a winner, or failed with a reason."""

    succeeded: bool
    reason: str
    winner: int | None = None


Action = StartTrial | StopTrial | ReuseRun | Finish
