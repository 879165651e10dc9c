"""The two-stage planner: which trials to start and stop, which go to stage 2, when it is over.

Executors drive it with three calls (:meth:`Search.step`, :meth:`Search.observe`,
:meth:`Search.finished`) and apply the actions it returns. It never reads a clock or does I/O:
given the spec and the same calls it makes the same decisions, and its state is plain data
(:meth:`Search.to_state` / :meth:`Search.from_state`) so a restarted executor continues exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np

from hypersearch.engine.actions import Action, Finish, ReuseRun, StartTrial, StopTrial
from hypersearch.engine.cost import REUSED, Cost, cost_of
from hypersearch.engine.history import Search as HistorySearch
from hypersearch.engine.history import encode, history_by_name
from hypersearch.engine.observations import (
    ObservationTable,
    TrialReport,
    WindowStat,
    quantised,
    report_problem,
    same_window,
)
from hypersearch.engine.predictors import PredictionContext, predictor_from_spec
from hypersearch.engine.promotion import Candidates, promotion_by_name
from hypersearch.engine.relative import clip_outliers, fit_additive
from hypersearch.engine.samplers import History, make_sampler
from hypersearch.engine.stopping import Rung, Standing, stopping_rule_from_spec
from hypersearch.engine.transfer import Transferred, transfer_from_spec
from hypersearch.engine.trial import Trial, TrialState
from hypersearch.spec.model import ParamValue, SearchSpec

STATE_VERSION = 1


def run_params(spec: SearchSpec, trial: Trial) -> Transferred:
    """The params a trial's trainer runs with: a stage-1 run's configuration transformed for its
    data rate by ``spec.stage1.transfer``; a stage-2 run (full data) the configuration as is.
    Pure, so every executor (and a restarted one) derives the same params."""
    if trial.stage != 1:
        return Transferred(dict(trial.params))
    policy = transfer_from_spec(spec.transfer)
    return policy.apply(trial.params, spec.parameters, trial.data.rate)


def trial_env(
    spec: SearchSpec, trial: Trial, params: dict[str, ParamValue] | None = None
) -> dict[str, str]:
    """The control-protocol environment of a trial (docs/design.md §3); its HS_PARAM_* are
    the params it runs with (``params``, else :func:`run_params`)."""
    if params is None:
        params = run_params(spec, trial).params
    env = {f"HS_PARAM_{k}": str(v) for k, v in params.items()}
    env.update(trial.data.env())
    env.update(
        {
            "HS_SEED": str(spec.seed),
            "HS_TRIAL": trial.name,
            "HS_STAGE": str(trial.stage),
            "HS_EVAL_WINDOWS": str(spec.evaluation_windows),
        }
    )
    return env


def start_action(spec: SearchSpec, trial: Trial) -> StartTrial:
    """The StartTrial of ``trial`` (a new one, or an existing one whose children are rebuilt)."""
    transferred = run_params(spec, trial)
    changed = transferred.params != dict(trial.params)
    return StartTrial(
        trial.id,
        trial.name,
        trial.stage,
        dict(trial.params),
        trial.data,
        trial_env(spec, trial, transferred.params),
        run_params=transferred.params if changed else None,
    )


class Search:
    """One search's decisions. Trial ids ``0..trials-1`` are stage 1; stage-2 runs follow.

    ``history``: the earlier searches of ``spec.stage1.history`` by their label, already read
    and checked by the executor (plain data); the executor may replace it (:attr:`history`)
    until :meth:`promotes_next`, e.g. with what is left of them then."""

    def __init__(
        self, spec: SearchSpec, history: Mapping[str, HistorySearch] | None = None
    ) -> None:
        self.spec = spec
        self.history: dict[str, HistorySearch] = dict(history or {})
        # What the history policy did at promotion (policy, searches, weight, reason).
        self.history_used: dict[str, Any] | None = None
        self.sampler = make_sampler(spec)
        self.rule = stopping_rule_from_spec(spec)
        self.predictor = predictor_from_spec(spec)
        self.promotion = promotion_by_name(spec.promotion.name, **spec.promotion.settings())
        self.checkpoints = self.rule.checkpoints(spec.stage1_data.start, spec.stage1_data.stop)
        grid = self.sampler.size()
        self.configurations = min(spec.trials, grid) if grid is not None else spec.trials
        self.trials: list[Trial] = []
        self.phase = "Running"
        self.stage = 1
        self.reason = ""
        self.promoted: list[int] = []
        self.winner: int | None = None
        self.table = ObservationTable(spec.windows, spec.sign, capacity=self.configurations)
        self._window_versions = np.zeros(spec.windows, dtype=np.int64)
        # Stage-1 positions for cohort lookups; failed trials are -inf so they never count.
        self._positions = np.full(self.configurations, -np.inf)
        self._memos: dict[tuple[Any, ...], Any] = {}
        self._names: list[str] = []  # stage-1 trial names by row, for stop reasons
        self._failures = 0

    # ----------------------------------------------------------------- executor API

    def step(self) -> list[Action]:
        """Start what may start now; move to stage 2 or finish when a stage is over."""
        if self.phase != "Running":
            return []
        if self.stage == 1:
            actions: list[Action] = []
            while (
                self._running(1) < self.spec.parallelism
                and len(self._stage(1)) < self.configurations
            ):
                actions.append(self._start_stage1())
            if self._running(1) or len(self._stage(1)) < self.configurations:
                return actions
            return actions + self._end_stage1()
        return self._advance_stage2()

    def observe(self, trial_id: int, report: TrialReport) -> list[Action]:
        """Take one scrape of a running trial; may stop it (a loser, or garbage reported)."""
        return self.observe_all({trial_id: report})

    def observe_all(self, reports: dict[int, TrialReport]) -> list[Action]:
        """Take one scrape round: record every report first, then decide for each trial.

        Recording before deciding lets all trials crossing the same rung share one fit.
        """
        actions: list[Action] = []
        recorded = []
        for trial_id in sorted(reports):
            trial = self.trials[trial_id]
            if trial.state is not TrialState.RUNNING or self.phase != "Running":
                continue
            report = reports[trial_id]
            problem = report_problem(report, self.spec.windows, self.table.strata.keys())
            if problem:
                actions += self._fail(trial, f"reported garbage: {problem}", kill=True)
                continue
            if report.position < trial.position or report.examples < trial.examples:
                continue  # resumed from an older checkpoint: catching up to what was observed
            counted = trial.compute_source == "trainer"
            cpu, gpu = report.cpu_seconds, report.gpu_seconds
            if counted and (cpu is None or cpu < (trial.cpu_seconds or 0.0)):
                cpu = None  # a resumed trainer's counter catching up: keep the last reading
            if counted and (gpu is None or gpu < (trial.gpu_seconds or 0.0)):
                gpu = None
            # Only new or changed windows: the table is updated in place. Strata are kept
            # rounded (see ``quantised``), so what is stored is what a restored search holds.
            fresh = {
                w: quantised(s)
                for w, s in report.windows.items()
                if not same_window(trial.windows.get(w), s)
            }
            trial.position = report.position
            trial.examples = report.examples
            trial.windows.update(fresh)
            # Empty windows are missing data: remembered (the evaluation window may hold one)
            # but never a value; a window with a metric is not empty.
            trial.empty.update(w for w in report.empty if w not in trial.windows)
            if cpu is not None:
                if gpu is not None or not counted:  # counted: a GPU counter catching up stays
                    trial.gpu_seconds = gpu or 0.0
                trial.cpu_seconds = cpu
                trial.compute_source = "trainer"
            elif gpu is not None and counted:
                trial.gpu_seconds = gpu
            if trial.stage == 1:
                self._record(trial, fresh)
                recorded.append(trial)
        for trial in recorded:
            if trial.state is TrialState.RUNNING and self.phase == "Running":
                actions += self._check_rungs(trial)
        return actions

    def _record(self, trial: Trial, windows: dict[int, WindowStat]) -> None:
        self.table.record(trial.id, windows)
        for w in windows:
            self._window_versions[w] += 1
        if trial.state is not TrialState.FAILED:
            self._positions[trial.id] = trial.position

    def finished(self, trial_id: int, succeeded: bool, message: str = "") -> list[Action]:
        """A trial's process or pod has ended (on its own, or after a stop)."""
        trial = self.trials[trial_id]
        if trial.state is not TrialState.RUNNING:
            return []
        if not succeeded:
            return self._fail(trial, message or "exited with a failure")
        if trial.stage == 2:
            final = self._target_mean(trial)
            if final is None:
                return self._fail(trial, self._no_target(trial))
            trial.final = final
            trial.state = TrialState.COMPLETED
            trial.reason = (
                f"full training done: {self.spec.metric} {final:.4f} on the evaluation window"
            )
            return []
        trial.state = TrialState.COMPLETED
        self._predict_into(trial)
        trial.reason = self._clipped(
            trial, f"completed its stage-1 data at {self.spec.window_name} {trial.position:g}"
        )
        return []

    def abort(self, reason: str) -> list[Action]:
        """The executor cannot go on (e.g. the cluster refuses a request the search needs):
        fail the search, stopping every running trial."""
        if self.phase != "Running":
            return []
        return self._finish(False, reason)

    def record_compute(
        self, trial_id: int, cpu_seconds: float, gpu_seconds: float | None, source: str
    ) -> bool:
        """Compute an executor measured for a trial (its process CPU time, or pod running time x
        requests): the total so far, for a running or an ended trial. The trainer's own counters
        win: a trial that reports them keeps them. Returns whether it was recorded."""
        trial = self.trials[trial_id]
        if trial.compute_source in ("trainer", REUSED) or source in ("trainer", REUSED):
            return False
        values = [cpu_seconds] if gpu_seconds is None else [cpu_seconds, gpu_seconds]
        if not all(math.isfinite(v) and v >= 0 for v in values):
            return False
        trial.cpu_seconds = float(cpu_seconds)
        trial.gpu_seconds = None if gpu_seconds is None else float(gpu_seconds)
        trial.compute_source = source
        return True

    # ----------------------------------------------------------------- reporting

    def cost(self) -> Cost:
        """Compute and examples so far, and the reductions against a full search."""
        return cost_of(self.trials, self.spec.windows, self.configurations)

    def summary(self) -> dict[str, Any]:
        """A status-sized picture of the search (counts, best, winners, cost)."""
        counts = {s.value.lower(): 0 for s in TrialState}
        for t in self.trials:
            counts[t.state.value.lower()] += 1
        best = self._best()
        return {
            "phase": self.phase,
            "stage": self.stage,
            "reason": self.reason,
            "trials": {**counts, "total": self.configurations},
            "bestTrial": best.name if best else None,
            "promoted": [self.trials[i].name for i in self.promoted],
            "promotion": self.spec.promotion.describe(),
            **({"history": dict(self.history_used)} if self.history_used is not None else {}),
            "winner": self.trials[self.winner].name if self.winner is not None else None,
            "cost": self.cost().to_dict(),
        }

    def to_state(self) -> dict[str, Any]:
        """Everything decided so far, as JSON-ready plain data."""
        return {
            "version": STATE_VERSION,
            "phase": self.phase,
            "stage": self.stage,
            "reason": self.reason,
            "promoted": list(self.promoted),
            "winner": self.winner,
            **({"history": dict(self.history_used)} if self.history_used is not None else {}),
            "trials": [t.to_dict() for t in self.trials],
        }

    @classmethod
    def from_state(
        cls,
        spec: SearchSpec,
        state: dict[str, Any],
        history: Mapping[str, HistorySearch] | None = None,
    ) -> Search:
        """Rebuild a search from :meth:`to_state` output; it continues with identical decisions
        (given the same ``history``, where it has not promoted yet)."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported engine state version {state.get('version')!r}")
        search = cls(spec, history)
        used = state.get("history")
        search.history_used = dict(used) if isinstance(used, dict) else None
        search.phase = state["phase"]
        search.stage = int(state["stage"])
        search.reason = state["reason"]
        search.promoted = [int(i) for i in state["promoted"]]
        search.winner = state["winner"]
        search.trials = [Trial.from_dict(t) for t in state["trials"]]
        search._names = [t.name for t in search._stage(1)]
        for t in search._stage(1):
            search._record(t, t.windows)
        return search

    def promotes_next(self) -> bool:
        """Whether the next :meth:`step` may promote (stage 1 has started every configuration
        and none is running): the last moment to replace :attr:`history`."""
        return (
            self.phase == "Running"
            and self.stage == 1
            and len(self._stage(1)) >= self.configurations
            and not self._running(1)
        )

    # ----------------------------------------------------------------- stage 1

    def _stage(self, stage: int) -> list[Trial]:
        return [t for t in self.trials if t.stage == stage]

    def _running(self, stage: int) -> int:
        return sum(t.state is TrialState.RUNNING for t in self._stage(stage))

    def _history(self) -> History:
        return [
            (dict(t.params), self.spec.sign * t.predicted)
            for t in self._stage(1)
            if t.state in (TrialState.STOPPED, TrialState.COMPLETED) and t.predicted is not None
        ]

    def _start(self, trial: Trial) -> StartTrial:
        self.trials.append(trial)
        note = run_params(self.spec, trial).note()
        if note:  # the reason while it runs: what it runs with
            trial.reason = note
        return start_action(self.spec, trial)

    def _clipped(self, trial: Trial, reason: str) -> str:
        """``reason``, with the values the stage-1 transfer had to clip (if any) appended."""
        clipped = run_params(self.spec, trial).clipped
        return f"{reason}; transfer clipped {', '.join(clipped)}" if clipped else reason

    def _start_stage1(self) -> StartTrial:
        index = len(self.trials)
        params = self.sampler.sample(index, self._history())
        name = f"{self.spec.name}-{index:03d}"
        self._names.append(name)
        return self._start(Trial(index, name, 1, params, self.spec.stage1_data))

    def _predictions(self, cutoff: int) -> tuple[np.ndarray, np.ndarray]:
        """Sign-adjusted predicted targets of all stage-1 rows from windows < ``cutoff`` (cached)."""
        key = (cutoff, int(self._window_versions[:cutoff].sum()), self.table.rows)
        result: tuple[np.ndarray, np.ndarray] = self._memo(
            "predict", key, lambda: self._predict_rows(cutoff)
        )
        return result

    def _predict_rows(self, cutoff: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.table.rows
        values = clip_outliers(self.table.values[:rows, :cutoff])
        data = [t.data for t in self.trials[:rows]]
        ctx = PredictionContext(
            values=values,
            fit=fit_additive(values),
            target=self.spec.target_windows,
            starts=np.array([d.start for d in data], dtype=float),
            rates=np.array([d.rate for d in data], dtype=float),
            target_start=self.spec.stage2_data.start,
            target_rate=self.spec.stage2_data.rate,
            strata={s: clip_outliers(v[:rows, :cutoff]) for s, v in self.table.strata.items()},
            strata_counts={s: c[:rows, :cutoff] for s, c in self.table.strata_counts.items()},
        )
        return self.predictor.predict(ctx)

    def _predict_into(self, trial: Trial, cutoff: int | None = None) -> None:
        """Store the trial's predicted target (from windows < ``cutoff``, default all)."""
        scores, stds = self._predictions(self.spec.windows if cutoff is None else cutoff)
        if trial.id < scores.size and math.isfinite(scores[trial.id]):
            trial.predicted = float(self.spec.sign * scores[trial.id])
            trial.predicted_std = float(stds[trial.id])

    def _check_rungs(self, trial: Trial) -> list[Action]:
        while trial.next_check < len(self.checkpoints):
            rung = self.checkpoints[trial.next_check]
            if trial.position < rung - 1e-9:
                break
            trial.next_check += 1
            cohort = np.flatnonzero(self._positions[: self.table.rows] >= rung - 1e-9)
            cutoff = math.floor(rung + 1e-9)
            memo_key = (
                cutoff,
                int(self._window_versions[:cutoff].sum()),
                cohort.size,
                self._failures,
            )
            predicted, predicted_std = (
                self._predictions(cutoff) if self.rule.uses_predictions else (None, None)
            )
            data = Rung(
                position=rung,
                cohort=cohort,
                values=self.table.values[: self.table.rows, self.spec.stage1_data.start : cutoff],
                names=self._names,
                predicted=predicted,
                predicted_std=predicted_std,
            )
            # Every trial crossing this rung with the same observations shares one ranking.
            standing: Standing = self._memo("rank", memo_key, partial(self.rule.rank, data))
            reason = self.rule.decide(data, standing, trial.id)
            if reason:
                trial.state = TrialState.STOPPED
                trial.reason = self._clipped(trial, reason)
                self._predict_into(trial, cutoff)
                if self.rule.uses_predictions:  # the value the reason quotes
                    trial.decision_predicted = trial.predicted
                return [StopTrial(trial.id, trial.name, trial.reason)]
        return []

    def _memo(self, name: str, key: tuple[int, ...], compute: Callable[[], Any]) -> Any:
        """Per-rung results shared by every decision at the same rung and observations."""
        full = (name, *key)
        if full not in self._memos:
            if len(self._memos) > 256:
                self._memos.clear()
            self._memos[full] = compute()
        return self._memos[full]

    def _checkpoints_passed(self, trial: Trial) -> int:
        """How many checkpoints a trial survived; a stopped one failed its last check.

        Promotion ranks survivors of more checkpoints first, so a trial stopped at a rung never
        outranks one that beat it there (its prediction from an earlier, shorter prefix is not
        comparable), as in successive halving.
        """
        if trial.state is TrialState.STOPPED:
            return trial.next_check - 1
        return trial.next_check

    def _end_stage1(self) -> list[Action]:
        candidates = [t for t in self._stage(1) if t.state is not TrialState.FAILED and t.windows]
        if not candidates:
            return self._finish(False, "no stage-1 trial reported a single window")
        for t in candidates:
            self._predict_into(t)
        self.promoted = self._promote([t for t in candidates if t.predicted is not None])
        self.stage = 2
        return self._advance_stage2()

    def _promote(self, trials: list[Trial]) -> list[int]:
        """The ids stage 2 trains: the first ``topK`` in the order of ``spec.stage1.promotion``.

        Row i is ``trials[i]``, with its (sign-adjusted) predicted target in the column of the
        checkpoints it passed: the policy ranks a later column first, as it ranks a higher data
        rate first, so a trial stopped at a rung never outranks one that beat it there. ``rank``
        then orders by the prediction (ties by id); ``family`` moves the best of each value of
        ``familyParameter`` to the front.
        """
        if not trials:
            return []
        passed = [self._checkpoints_passed(t) for t in trials]
        targets = np.full((len(trials), max(passed) + 1), np.nan)
        for row, (t, column) in enumerate(zip(trials, passed, strict=True)):
            targets[row, column] = self.spec.sign * (t.predicted or 0.0)
        self._apply_history(trials, passed, targets)
        name = self.spec.promotion.family_parameter
        candidates = Candidates.of(
            targets,
            rates=[self.spec.stage1_data.rate] * targets.shape[1],
            families=[str(t.params.get(name, "")) for t in trials],
            target_rate=self.spec.stage2_data.rate,
        )
        return [trials[i].id for i in self.promotion.promote(candidates, self.spec.top_k)]

    def observed(self, trial: Trial) -> float | None:
        """The trial's own mean metric over the evaluation window (None unless it scored every
        window of it): a stage-1 run's observed target, a stage-2 run's final."""
        return self._target_mean(trial)

    def _stage1_value(self, trial: Trial) -> float | None:
        """A stage-1 run's target as history compares it (sign-adjusted): observed where it
        scored every evaluation window, else its prediction (as the earlier searches' rows,
        :func:`hypersearch.report.earlier.history_rows`)."""
        observed = self._target_mean(trial)
        value = observed if observed is not None else trial.predicted
        return None if value is None else self.spec.sign * value

    def _apply_history(self, trials: list[Trial], passed: list[int], targets: np.ndarray) -> None:
        """Replace each row's target by the history policy's corrected score (in place), so
        promotion (rank, or family on top of it) orders by it; a stopped trial still never
        outranks one that beat it at a rung. ``none``: nothing changes (today's order)."""
        policy = self.spec.history.policy
        if policy == "none":
            return
        values = [self._stage1_value(t) for t in trials]
        stage1 = np.array([np.nan if v is None else v for v in values], dtype=float)
        features = np.array([encode(t.params, self.spec.parameters) for t in trials])
        searches = list(self.history)
        ranking = history_by_name(policy).rank(list(self.history.values()), features, stage1)
        if ranking.weight > 0:
            for row, column in enumerate(passed):
                score = ranking.scores[row]
                targets[row, column] = score if math.isfinite(score) else np.nan
        self.history_used = {
            "policy": policy,
            "searches": searches,
            "weight": round(float(ranking.weight), 6),
            "reason": ranking.reason,
        }

    # ----------------------------------------------------------------- stage 2

    def _advance_stage2(self) -> list[Action]:
        actions: list[Action] = []
        started = {t.source for t in self._stage(2)}
        for source in self.promoted:
            if source in started:
                continue
            src = self.trials[source]
            # <search>-<id>-full: ends in a letter, so it never equals a stage-1 name
            # (<search>-<digits>) of this search or of one named <search>-full.
            name = f"{self.spec.name}-{source:03d}-full"
            trial = Trial(
                len(self.trials), name, 2, dict(src.params), self.spec.stage2_data, source=source
            )
            final = self._target_mean(src) if self._already_full(src) else None
            if final is not None:
                actions.append(self._reuse(trial, src, final))
                continue
            if self._running(2) >= self.spec.stage2_parallelism:
                break
            actions.append(self._start(trial))
        if actions or self._running(2) or len(self._stage(2)) < len(self.promoted):
            return actions
        done = [
            t for t in self._stage(2) if t.state is TrialState.COMPLETED and t.final is not None
        ]
        if not done:
            return self._finish(False, "every full-training run failed")
        best = min(done, key=lambda t: (self.spec.sign * (t.final or 0.0), t.id))
        self.winner = best.id
        return self._finish(
            True,
            f"winner {best.name}: {self.spec.metric} {best.final:.4f} on the evaluation window "
            f"after full training",
        )

    def _already_full(self, src: Trial) -> bool:
        """Did this stage-1 run train on exactly the full-training data, to the end?

        Every trial gets the search's seed, so a stage-2 run of it would repeat it exactly.
        """
        a, b = src.data, self.spec.stage2_data
        same_sample = a.rate == b.rate and (a.sampling == b.sampling or a.rate >= 1.0)
        return (
            src.state is TrialState.COMPLETED
            and (a.start, a.stop) == (b.start, b.stop)
            and same_sample
            and a.eval_rate >= 1.0  # otherwise its target was scored on a sample
        )

    def _reuse(self, trial: Trial, src: Trial, final: float) -> ReuseRun:
        trial.state = TrialState.COMPLETED
        trial.windows = dict(src.windows)
        trial.empty = set(src.empty)
        trial.position = src.position
        trial.final = final
        trial.cpu_seconds, trial.gpu_seconds, trial.compute_source = 0.0, 0.0, REUSED
        trial.reason = (
            f"reused {src.name}: its stage-1 run already trained on the full-training data; "
            f"{self.spec.metric} {final:.4f} on the evaluation window"
        )
        self.trials.append(trial)
        return ReuseRun(trial.id, trial.name, src.id, trial.reason)

    def _target_mean(self, trial: Trial) -> float | None:
        """Mean metric over the evaluation window; its empty windows (no example to score) are
        missing data and left out. None unless every other window of it was reported."""
        target = [
            w for w in self.spec.target_windows if w < trial.data.stop and w not in trial.empty
        ]
        values = [trial.windows[w].value for w in target if w in trial.windows]
        return float(np.mean(values)) if values and len(values) == len(target) else None

    def _no_target(self, trial: Trial) -> str:
        """Why a finished full-training run has no target (see :meth:`_target_mean`)."""
        target = [w for w in self.spec.target_windows if w < trial.data.stop]
        if target and all(w in trial.empty for w in target):
            return (
                f"finished, but every {self.spec.window_name} of the evaluation window "
                f"({target[0]}-{target[-1]}) had no example to score"
            )
        return "finished without reporting the evaluation window"

    # ----------------------------------------------------------------- endings

    def _best(self) -> Trial | None:
        """The trial a person should look at: the best full-training result; before one
        exists, the first promoted configuration (promotion's own ranking); in stage 1 the best
        prediction among trials still in the race (a stopped trial's prediction came from a
        shorter prefix and is not comparable)."""
        finals = [t for t in self._stage(2) if t.final is not None]
        if finals:
            return min(finals, key=lambda t: self.spec.sign * (t.final or 0.0))
        if self.promoted:
            return self.trials[self.promoted[0]]
        predicted = [t for t in self._stage(1) if t.predicted is not None]
        racing = [t for t in predicted if t.state in (TrialState.RUNNING, TrialState.COMPLETED)]
        if racing or predicted:
            return min(racing or predicted, key=lambda t: self.spec.sign * (t.predicted or 0.0))
        return None

    def _fail(self, trial: Trial, reason: str, kill: bool = False) -> list[Action]:
        """Mark a trial failed; ``kill`` when its process is still running (garbage reported)."""
        trial.state = TrialState.FAILED
        trial.reason = reason
        self._failures += 1
        if trial.stage == 1:
            self._positions[trial.id] = -np.inf
        actions: list[Action] = (
            [StopTrial(trial.id, trial.name, reason, failed=True)] if kill else []
        )
        failed = sum(t.state is TrialState.FAILED for t in self.trials)
        if failed > self.spec.max_failed_trials:
            actions += self._finish(
                False,
                f"{failed} trials failed, more than maxFailedTrials={self.spec.max_failed_trials}",
            )
        return actions

    def _finish(self, succeeded: bool, reason: str) -> list[Action]:
        actions: list[Action] = []
        if not succeeded:
            for t in self.trials:
                if t.state is TrialState.RUNNING:
                    t.state = TrialState.STOPPED
                    t.reason = f"search failed: {reason}"
                    actions.append(StopTrial(t.id, t.name, t.reason))
        self.phase = "Succeeded" if succeeded else "Failed"
        self.reason = reason
        return [*actions, Finish(succeeded, reason, self.winner)]


__all__ = ["Search", "run_params", "start_action", "trial_env"]
