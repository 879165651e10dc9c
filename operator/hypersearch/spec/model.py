"""Typed, defaulted view of a HyperSearch spec, as the engine and executors consume it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ParamType = Literal["double", "int", "categorical"]
ParamValue = float | int | str


@dataclass(frozen=True)
class Parameter:
    """One dimension of the search space."""

    name: str
    type: ParamType
    min: float | None = None
    max: float | None = None
    scale: Literal["linear", "log"] = "linear"
    step: float | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataRange:
    """Which windows a run trains on and how much of each it keeps."""

    start: int
    stop: int
    rate: float = 1.0
    sampling: Literal["uniform", "negatives"] = "uniform"
    eval_rate: float = 1.0  # fraction of each window scored (a stage-2 run scores its target fully)

    def env(self) -> dict[str, str]:
        """The control-protocol variables that ask a trainer for this data."""
        return {
            "HS_DATA_START": str(self.start),
            "HS_DATA_STOP": str(self.stop),
            "HS_DATA_RATE": repr(float(self.rate)),
            "HS_DATA_SAMPLING": self.sampling,
            "HS_EVAL_RATE": repr(float(self.eval_rate)),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "stop": self.stop,
            "rate": self.rate,
            "sampling": self.sampling,
            "evalRate": self.eval_rate,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DataRange:
        """From :meth:`to_dict` output; records written before ``evalRate`` existed scored all."""
        return cls(
            start=int(raw["start"]),
            stop=int(raw["stop"]),
            rate=float(raw.get("rate", 1.0)),
            sampling=raw.get("sampling", "uniform"),
            eval_rate=float(raw.get("evalRate", 1.0)),
        )


@dataclass(frozen=True)
class StoppingSpec:
    rule: str = "performance"
    rungs: tuple[float, ...] = ()
    min_position: float | None = None
    eta: float = 3.0
    min_cohort: int = 4
    compare_windows: int = 7
    confidence: float | None = None


@dataclass(frozen=True)
class PredictorSpec:
    name: str = "constant"
    recent_windows: int = 7


@dataclass(frozen=True)
class TransferSpec:
    """``spec.stage1.transfer``: how a stage-1 run's params are adapted to its data rate."""

    name: str = "none"
    batch_exponent: float = 1.0
    lr_exponent: float = 0.0
    weight_decay: str = "timescale"
    lr_param: str = "lr"
    batch_param: str = "batch_size"
    weight_decay_param: str = "weight_decay"


@dataclass(frozen=True)
class PromotionSpec:
    """``spec.stage1.promotion``: the engine policy that orders stage-1 configurations for
    stage 2 (``rank`` or ``family``; see :mod:`hypersearch.engine.promotion`)."""

    name: str = "rank"
    family_parameter: str = "model"
    per_family: int = 1

    def settings(self) -> dict[str, Any]:
        """The policy's own keyword arguments."""
        return {"per_family": self.per_family} if self.name == "family" else {}

    def describe(self) -> str:
        """One line for results and status: the policy and its knobs."""
        if self.name == "family":
            return f"family ({self.family_parameter}, {self.per_family} per family)"
        return self.name


@dataclass(frozen=True)
class HistoryEntry:
    """One earlier search of ``spec.stage1.history.searches``: exactly one of ``name`` (a
    HyperSearch of the same namespace; locally ``results/NAME``) or ``results`` (local only: a
    results directory or results.json, relative to the manifest)."""

    name: str | None = None
    results: str | None = None

    @property
    def field(self) -> str:
        """Which of the two fields names it."""
        return "name" if self.name is not None else "results"

    @property
    def label(self) -> str:
        """How messages, status and results name it: ``name`` or the ``results`` path."""
        return self.name if self.name is not None else str(self.results)


@dataclass(frozen=True)
class HistorySpec:
    """``spec.stage1.history``: the history policy (``none``: the plain stage-1 ranking) and
    the earlier searches it learns from (see :mod:`hypersearch.engine.history`)."""

    policy: str = "none"
    searches: tuple[HistoryEntry, ...] = ()


@dataclass(frozen=True)
class SamplerSpec:
    name: str = "random"
    grid_points: int = 3
    startup_trials: int = 10


@dataclass(frozen=True)
class WorkloadSpec:
    api_version: str = "batch/v1"
    kind: str = "Job"
    template: dict[str, Any] | None = None
    success_condition: str = "Complete"
    failure_condition: str = "Failed"


@dataclass(frozen=True)
class MetricsSpec:
    port: int = 9100
    path: str = "/metrics"
    interval_seconds: float = 10.0
    timeout_seconds: float = 5.0
    max_failures: int = 6
    objective_type: Literal["window", "sumcount"] = "window"
    objective_name: str = "hypersearch_trainer_window_metric"
    objective_count_name: str = "hypersearch_trainer_eval_examples_total"
    position: str = "hypersearch_trainer_position"
    examples: str = "hypersearch_trainer_train_examples_total"
    done: str = "hypersearch_trainer_done"
    cpu_seconds: str = "hypersearch_trainer_cpu_seconds_total"
    gpu_seconds: str = "hypersearch_trainer_gpu_seconds_total"


@dataclass(frozen=True)
class DeadlineSpec:
    """``spec.deadlines``: None where the spec leaves a deadline to the executor's default."""

    pending_seconds: float | None = None
    startup_seconds: float | None = None
    scrape_failure_seconds: float | None = None
    progress_seconds: float | None = None
    terminating_seconds: float | None = None
    workload_condition_seconds: float | None = None


@dataclass(frozen=True)
class SearchSpec:
    """Everything the engine needs to plan a search; built by :func:`hypersearch.spec.parse`."""

    name: str
    metric: str
    goal: Literal["minimize", "maximize"]
    evaluation_windows: int
    windows: int
    window_name: str
    seed: int
    parameters: tuple[Parameter, ...]
    sampler: SamplerSpec
    trials: int
    parallelism: int
    max_failed_trials: int
    stage1_data: DataRange
    stopping: StoppingSpec
    predictor: PredictorSpec
    top_k: int
    stage2_parallelism: int
    stage2_data: DataRange
    workload: WorkloadSpec
    metrics: MetricsSpec
    trial_template: dict[str, Any] = field(default_factory=dict)
    deadlines: DeadlineSpec = field(default_factory=DeadlineSpec)
    transfer: TransferSpec = field(default_factory=TransferSpec)
    promotion: PromotionSpec = field(default_factory=PromotionSpec)
    history: HistorySpec = field(default_factory=HistorySpec)

    @property
    def target_windows(self) -> range:
        """The final evaluation window W = [T - delta, T) (0-based window indices)."""
        return range(max(0, self.windows - self.evaluation_windows), self.windows)

    @property
    def sign(self) -> float:
        """+1 when lower is better; scores are multiplied by it so the engine always minimises."""
        return 1.0 if self.goal == "minimize" else -1.0


def _data(raw: dict[str, Any], windows: int) -> DataRange:
    return DataRange(
        start=int(raw.get("start", 0)),
        stop=int(raw["stop"]) if raw.get("stop") is not None else windows,
        rate=float(raw.get("rate", 1.0)),
        sampling=raw.get("sampling", "uniform"),
        eval_rate=float(raw.get("evalRate", 1.0)),
    )


def from_document(document: dict[str, Any]) -> SearchSpec:
    """Build the typed spec from an already validated and defaulted HyperSearch object."""
    spec = document["spec"]
    windows = int(spec["stream"]["windows"])
    stage1 = spec["stage1"]
    stage2 = spec["stage2"]
    stopping = stage1["stopping"]
    metrics = spec["metrics"]
    workload = stage2.get("workload") or {}
    top_k = int(stage2["topK"])
    return SearchSpec(
        name=str(document.get("metadata", {}).get("name", "search")),
        metric=spec["objective"]["metric"],
        goal=spec["objective"]["goal"],
        evaluation_windows=int(spec["objective"]["evaluationWindows"]),
        windows=windows,
        window_name=spec["stream"].get("windowName", "window"),
        seed=int(spec["seed"]),
        parameters=tuple(
            Parameter(
                name=p["name"],
                type=p["type"],
                min=p.get("min"),
                max=p.get("max"),
                scale=p.get("scale", "linear"),
                step=p.get("step"),
                values=tuple(str(v) for v in p.get("values", ())),
            )
            for p in spec["parameters"]
        ),
        sampler=SamplerSpec(
            name=spec["sampler"]["name"],
            grid_points=int(spec["sampler"]["gridPoints"]),
            startup_trials=int(spec["sampler"]["startupTrials"]),
        ),
        trials=int(spec["trials"]),
        parallelism=int(spec["parallelism"]),
        max_failed_trials=int(spec["maxFailedTrials"]),
        stage1_data=_data(stage1["data"], windows),
        stopping=StoppingSpec(
            rule=stopping["rule"],
            rungs=tuple(float(r) for r in stopping.get("rungs", ())),
            min_position=stopping.get("minPosition"),
            eta=float(stopping["eta"]),
            min_cohort=int(stopping["minCohort"]),
            compare_windows=int(stopping["compareWindows"]),
            confidence=stopping.get("confidence"),
        ),
        predictor=PredictorSpec(
            name=stage1["predictor"]["name"],
            recent_windows=int(stage1["predictor"]["recentWindows"]),
        ),
        top_k=top_k,
        stage2_parallelism=int(stage2.get("parallelism") or top_k),
        stage2_data=_data(stage2["data"], windows),
        workload=WorkloadSpec(
            api_version=workload.get("apiVersion", "batch/v1"),
            kind=workload.get("kind", "Job"),
            template=workload.get("template"),
            success_condition=workload.get("successCondition", "Complete"),
            failure_condition=workload.get("failureCondition", "Failed"),
        ),
        metrics=MetricsSpec(
            port=int(metrics["port"]),
            path=metrics["path"],
            interval_seconds=float(metrics["intervalSeconds"]),
            timeout_seconds=float(metrics["timeoutSeconds"]),
            max_failures=int(metrics["maxFailures"]),
            objective_type=metrics["objective"]["type"],
            objective_name=metrics["objective"]["name"],
            objective_count_name=metrics["objective"]["countName"],
            position=metrics["position"],
            examples=metrics["examples"],
            done=metrics["done"],
            cpu_seconds=metrics["cpuSeconds"],
            gpu_seconds=metrics["gpuSeconds"],
        ),
        trial_template=spec.get("trialTemplate") or {},
        deadlines=_deadlines(spec.get("deadlines") or {}),
        transfer=_transfer(stage1.get("transfer") or {}),
        promotion=_promotion(stage1.get("promotion") or {}),
        history=_history(stage1.get("history") or {}),
    )


def _history(raw: dict[str, Any]) -> HistorySpec:
    return HistorySpec(
        policy=raw.get("policy", "none"),
        searches=tuple(
            HistoryEntry(name=s.get("name"), results=s.get("results"))
            for s in raw.get("searches") or ()
        ),
    )


def _promotion(raw: dict[str, Any]) -> PromotionSpec:
    """Like the transfer's, the knobs are not defaulted by the schema (a knob set for ``rank``
    is reported)."""
    default = PromotionSpec()
    return PromotionSpec(
        name=raw.get("name", default.name),
        family_parameter=raw.get("familyParameter", default.family_parameter),
        per_family=int(raw.get("perFamily", default.per_family)),
    )


def _transfer(raw: dict[str, Any]) -> TransferSpec:
    """The knobs are not defaulted by the schema (so a knob set for ``none`` is reported)."""
    names = raw.get("parameters") or {}
    default = TransferSpec()
    return TransferSpec(
        name=raw.get("name", default.name),
        batch_exponent=float(raw.get("batchExponent", default.batch_exponent)),
        lr_exponent=float(raw.get("lrExponent", default.lr_exponent)),
        weight_decay=raw.get("weightDecay", default.weight_decay),
        lr_param=names.get("learningRate", default.lr_param),
        batch_param=names.get("batchSize", default.batch_param),
        weight_decay_param=names.get("weightDecay", default.weight_decay_param),
    )


def _deadlines(raw: dict[str, Any]) -> DeadlineSpec:
    def seconds(key: str) -> float | None:
        return float(raw[key]) if raw.get(key) is not None else None

    return DeadlineSpec(
        pending_seconds=seconds("pendingSeconds"),
        startup_seconds=seconds("startupSeconds"),
        scrape_failure_seconds=seconds("scrapeFailureSeconds"),
        progress_seconds=seconds("progressSeconds"),
        terminating_seconds=seconds("terminatingSeconds"),
        workload_condition_seconds=seconds("workloadConditionSeconds"),
    )
