"""Stage-1 methods replayed over cached trajectories, ours and the peers', on equal terms.

Each method sees one subset of configurations and returns a ranking (best first), the scores
it ranked by (for Kendall tau) and its stage-1 cost: the CPU-seconds the real runs spent up to
where the method stopped them (the trainer's cumulative counter at that window, start-up
included), and the training examples beside it. A run stopped mid-way pays up to there, a re-run
at a higher rate pays again, a continued run pays only the windows it added. Stage 2 (full
training of the top k) is costed by the caller, the same way for every method.

:meth:`Runs.at_eval` replays every run at a lower evaluation rate (the logloss of each window's
nested evaluation sample, and a modelled compute); methods then see only that.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna

from hypersearch.bench.groundtruth import FULL_RATE, SPACE, Trajectory
from hypersearch.engine.history import Search, encode, history_by_name
from hypersearch.engine.promotion import Candidates, promotion_by_name
from hypersearch.engine.trial import TrialState
from hypersearch.replay import Curve, replay
from hypersearch.spec import parse
from hypersearch.spec.model import DataRange, ParamValue

COMPARE_WINDOWS = 7


@dataclass(frozen=True)
class Spend:
    """What runs cost: CPU-seconds (the headline), training examples (beside it), and how many
    trainer processes were started (each paid its start-up)."""

    cpu: float = 0.0
    examples: float = 0.0
    processes: int = 0

    def __add__(self, other: Spend) -> Spend:
        return Spend(
            self.cpu + other.cpu,
            self.examples + other.examples,
            self.processes + other.processes,
        )

    def forked(self, startup: float, client: float) -> float:
        """CPU-seconds had every process been forked from one warm process (``HS_FORKSERVER``):
        each saves ``startup`` but pays ``client``; the warm process's own start-up is paid once.
        An estimate, not a measurement."""
        if self.processes == 0:
            return self.cpu
        return self.cpu - self.processes * (startup - client) + startup

    @staticmethod
    def total(spends: Iterable[Spend]) -> Spend:
        out = Spend()
        for s in spends:
            out = out + s
        return out


@dataclass
class Outcome:
    """What a method hands to stage 2, and what it spent getting there."""

    ranking: list[int]
    stage1: Spend
    scores: dict[int, float] = field(default_factory=dict)
    # Configurations whose stage-1 run already was a full run (all data, whole stream): their
    # stage 2 is free, so methods that run some trials to the end on full data aren't charged twice.
    complete: set[int] = field(default_factory=set)
    # Trials the engine failed although their run did not diverge (config -> the engine's
    # reason): lost to an error, so the method's figures do not describe a search that ran.
    lost: dict[int, str] = field(default_factory=dict)
    # Trials the engine failed because their run diverged (no finite metric on a scored
    # window): the product fails those too, and they rank last; not an error.
    diverged: set[int] = field(default_factory=set)


@dataclass
class Runs:
    """The cached trajectories: ``runs[(config, rate)]``; full data is rate 1.

    ``eval_rate`` is the evaluation rate the trajectories describe (see :meth:`at_eval`).
    """

    runs: dict[tuple[int, float], Trajectory]
    eval_windows: int = 7
    eval_rate: float = 1.0
    # Each configuration's model family (its ``model`` parameter), for family-aware policies;
    # a configuration not named here is of family "".
    families: dict[int, str] = field(default_factory=dict)
    # Each configuration's parameters (for policies that learn from them); may be empty.
    params: dict[int, dict[str, ParamValue]] = field(default_factory=dict)
    # Issue 16, lead 1: per transfer variant, the runs of each configuration at each stage-1
    # rate trained with the params that variant gives a run at that rate (``(config, rate)``,
    # rates below 1 only); :meth:`transferred` puts them in place of the plain ones.
    transfers: dict[str, dict[tuple[int, float], Trajectory]] = field(default_factory=dict)

    def at_eval(self, rate: float) -> Runs:
        """Every run replayed as if it had scored only the nested evaluation sample at ``rate``:
        each window's metric is the sample's logloss, its compute the measured one less
        ``1 - rate`` of the measured scoring CPU (a model; see :meth:`Trajectory.at_eval`)."""
        if rate >= 1.0:
            return self
        return Runs(
            {key: t.at_eval(rate) for key, t in self.runs.items()},
            self.eval_windows,
            rate,
            self.families,
            self.params,
            {v: {k: t.at_eval(rate) for k, t in r.items()} for v, r in self.transfers.items()},
        )

    def until(self, horizon: int) -> Runs:
        """Every run as if the stream had ended at window ``horizon`` (a search that ended
        then): windows before it only (:meth:`Trajectory.until`)."""
        if horizon >= self.windows:
            return self
        return Runs(
            {key: t.until(horizon) for key, t in self.runs.items()},
            self.eval_windows,
            self.eval_rate,
            self.families,
            self.params,
            {v: {k: t.until(horizon) for k, t in r.items()} for v, r in self.transfers.items()},
        )

    def transferred(self, variant: str) -> Runs:
        """These runs with each stage-1 run (rate below 1) replaced by the one trained with
        ``variant``'s transformed params; full-data runs (stage 2, the truth) stay as they are.
        Configurations keep their index and untransformed params: a method run on this view
        names, promotes and is charged for the configurations the search sampled, at what the
        transformed runs really cost."""
        swapped = self.transfers[variant]
        return Runs(
            {k: swapped[k] if k[1] < FULL_RATE else t for k, t in self.runs.items()},
            self.eval_windows,
            self.eval_rate,
            self.families,
            self.params,
        )

    @property
    def windows(self) -> int:
        return int(next(iter(self.runs.values())).logloss.size)

    def full(self, c: int) -> Trajectory:
        return self.runs[(c, FULL_RATE)]

    def target(self, c: int, rate: float = FULL_RATE) -> float:
        """Mean logloss over the evaluation window of config ``c``'s run at ``rate``; windows
        of it without examples are missing data, left out (:meth:`Trajectory.target`).

        A run that diverged (no finite value there) counts as the worst run of its rate.
        """
        value = self._target(c, rate)
        if math.isfinite(value):
            return value
        finite = [self._target(k, r) for (k, r) in self.runs if r == rate]
        return max((v for v in finite if math.isfinite(v)), default=float("inf"))

    def _target(self, c: int, rate: float) -> float:
        return self.runs[(c, rate)].target(self.eval_windows)

    def spend(self, c: int, rate: float, stop: int | None = None, start: int = 0) -> Spend:
        """What config ``c``'s run at ``rate`` cost over windows [start, stop) (the whole
        stream by default): the CPU counter where it stopped, the examples trained until then."""
        run = self.runs[(c, rate)]
        stop = run.windows if stop is None else stop
        return Spend(
            run.cpu_until(stop, start), float(run.trained[start:stop].sum()), int(start <= 0)
        )

    def full_cost(self, c: int) -> Spend:
        """A full run: its measured CPU (a crashed run's is what the process spent before it
        crashed) and its examples (a crashed run recorded none, so it counts a typical one's)."""
        own = self.spend(c, FULL_RATE)
        if own.examples > 0:
            return own
        others = [float(t.trained.sum()) for (k, r), t in self.runs.items() if r == FULL_RATE]
        return Spend(own.cpu, float(np.median([o for o in others if o > 0] or [0.0])), 1)

    def curve(self, c: int, data: DataRange) -> Curve:
        run = self.runs[(c, data.rate)]
        sl = slice(data.start, data.stop)
        return Curve(
            run.logloss[sl],
            run.trained[sl],
            {s: (v[sl], n[sl]) for s, (v, n) in run.strata.items()},
            scored=run.eval_examples[sl],
        )


Method = Callable[[Runs, Sequence[int], np.random.Generator], Outcome]


def full_search(runs: Runs, subset: Sequence[int], rng: np.random.Generator) -> Outcome:
    """Every configuration on all data: the truth, at the full price (no stage 2 needed)."""
    scores = {c: runs.target(c) for c in subset}
    ranking = sorted(subset, key=scores.__getitem__)
    complete = set(subset) if runs.eval_rate >= 1.0 else set()
    return Outcome(ranking, Spend.total(map(runs.full_cost, subset)), scores, complete)


def oracle(runs: Runs, subset: Sequence[int], rng: np.random.Generator) -> Outcome:
    """Hand the true top k to stage 2 for free: no method can be cheaper at zero regret (a
    bound, not a method)."""
    return Outcome(sorted(subset, key=runs.target), Spend())


def random_k(runs: Runs, subset: Sequence[int], rng: np.random.Generator) -> Outcome:
    """Hand k random configurations to stage 2 (the floor any method must beat)."""
    return Outcome([int(c) for c in rng.permutation(np.array(subset))], Spend())


def two_step(rate: float) -> Method:
    """arXiv 2302.03845: rank by the target-window metric of a run on a ``rate`` sample."""

    def run(runs: Runs, subset: Sequence[int], rng: np.random.Generator) -> Outcome:
        scores = {c: runs.target(c, rate) for c in subset}
        cost = Spend.total(runs.spend(c, rate) for c in subset)
        return Outcome(sorted(subset, key=scores.__getitem__), cost, scores)

    return run


def with_transfer(method: Method, variant: str) -> Method:
    """Issue 16, lead 1: ``method`` with its stage-1 runs trained with the transfer ``variant``
    (:meth:`Runs.transferred`); stage 2 (costed by the caller from the full-data runs) trains
    the untransformed configuration."""

    def run(runs: Runs, subset: Sequence[int], rng: np.random.Generator) -> Outcome:
        return method(runs.transferred(variant), subset, rng)

    return run


def engine(
    rate: float = 1.0,
    stop: int | None = None,
    rule: str = "none",
    predictor: str = "constant",
    eta: float = 3.0,
    parallelism: int = 16,
) -> Method:
    """Our engine (stage 1 only) replayed: any data reduction, stopping rule and predictor."""

    def run(runs: Runs, subset: Sequence[int], rng: np.random.Generator) -> Outcome:
        order = [str(c) for c in rng.permutation(np.array(subset))]
        doc = {
            "apiVersion": "hypersearch.dev/v1alpha1",
            "kind": "HyperSearch",
            "metadata": {"name": "bench"},
            "spec": {
                "stream": {"windows": runs.windows},
                "objective": {"evaluationWindows": runs.eval_windows},
                "parameters": [{"name": "config", "type": "categorical", "values": order}],
                "sampler": {"name": "grid"},
                "trials": len(order),
                "parallelism": parallelism,
                "maxFailedTrials": len(order),
                "stage1": {
                    "data": {
                        "rate": rate,
                        **({"stop": stop} if stop else {}),
                        **({"evalRate": runs.eval_rate} if runs.eval_rate < 1.0 else {}),
                    },
                    "stopping": {"rule": rule, "eta": eta, "compareWindows": COMPARE_WINDOWS},
                    "predictor": {"name": predictor},
                },
                "stage2": {"topK": 1},
                "trialTemplate": {"spec": {"containers": [{"name": "t", "command": ["true"]}]}},
            },
        }

        def curves(params: dict[str, ParamValue], data: DataRange) -> Curve:
            return runs.curve(int(params["config"]), data)

        search = replay(
            parse(doc), curves, until=lambda s: s.stage == 2 or s.phase != "Running"
        ).search
        stage1 = [t for t in search.trials if t.stage == 1]
        scores = {
            int(t.params["config"]): float(t.predicted)
            for t in stage1
            if t.predicted is not None and t.state is not TrialState.FAILED
        }
        ranked = sorted(scores, key=scores.__getitem__)
        rest = [c for c in subset if c not in scores]
        # A full-data run to the end is its own stage 2, unless it scored only a sample (the
        # engine then trains it again: its target was not measured in full).
        full_data = (
            rate >= FULL_RATE and (stop is None or stop >= runs.windows) and runs.eval_rate >= 1.0
        )
        complete = {
            int(t.params["config"]) for t in stage1 if full_data and t.state is TrialState.COMPLETED
        }
        # Each run pays up to the window it reached (its position) when stopped or done.
        cost = Spend.total(
            runs.spend(int(t.params["config"]), t.data.rate, round(t.position), t.data.start)
            for t in stage1
        )
        lost, diverged = {}, set()
        for t in stage1:
            if t.state is not TrialState.FAILED:
                continue
            c = int(t.params["config"])
            # The report that failed it was for the window after its position.
            if runs.runs[(c, t.data.rate)].diverged(t.data.start, round(t.position) + 1):
                diverged.add(c)
            else:
                lost[c] = t.reason
        return Outcome(ranked + rest, cost, scores, complete, lost, diverged)

    return run


def _recent(run: Trajectory, position: int) -> float:
    """Mean of the windows before ``position`` that a user would report (the last
    ``COMPARE_WINDOWS`` with examples); inf if it diverged."""
    return run.recent(position, COMPARE_WINDOWS)


def hyperband(rate: float = 1.0, eta: float = 3.0, min_windows: int = COMPARE_WINDOWS) -> Method:
    """Hyperband over data time: brackets of successive halving with different first rungs.

    The configurations are split across brackets in Hyperband's proportions; within a bracket
    a run continues training (no restart), so its cost is the windows it reached.
    """

    def run(runs: Runs, subset: Sequence[int], rng: np.random.Generator) -> Outcome:
        t_max = runs.windows
        s_max = max(0, math.floor(math.log(t_max / min_windows, eta) + 1e-9))
        weights = [math.ceil((s_max + 1) / (s + 1) * eta**s) for s in range(s_max, -1, -1)]
        shuffled = [int(c) for c in rng.permutation(np.array(subset))]
        counts = np.floor(np.array(weights) / sum(weights) * len(shuffled)).astype(int)
        counts[0] += len(shuffled) - counts.sum()
        reached: dict[int, tuple[int, float]] = {}
        start = 0
        for s, n in zip(range(s_max, -1, -1), counts, strict=True):
            bracket = shuffled[start : start + n]
            start += n
            r = max(1, round(t_max * eta**-s))
            alive = bracket
            for i in range(s + 1):
                position = min(t_max, round(r * eta**i))
                for c in alive:
                    reached[c] = (position, _recent(runs.runs[(c, rate)], position))
                if i == s or position >= t_max:
                    break
                keep = max(1, len(alive) // int(eta))
                alive = sorted(alive, key=lambda c: reached[c][1])[:keep]
        cost = Spend.total(runs.spend(c, rate, reached[c][0]) for c in reached)
        finals = {c: runs.target(c, rate) for c, (p, _) in reached.items() if p >= t_max}
        others = sorted(
            (c for c in reached if c not in finals), key=lambda c: (-reached[c][0], reached[c][1])
        )
        # A finisher on full data, scored in full, is its own stage 2.
        complete = set(finals) if rate >= FULL_RATE and runs.eval_rate >= 1.0 else set()
        return Outcome(sorted(finals, key=finals.__getitem__) + others, cost, finals, complete)

    return run


def rate_halving(rates: Sequence[float], eta: float = 3.0, keep_at_least: int = 3) -> Method:
    """Successive halving over the sub-sampling rate (docs/design.md §5): every run spans the
    whole horizon and is judged on the target window itself; the best 1/eta are re-run at the
    next rate (a fresh run: its full cost counts again)."""

    def run(runs: Runs, subset: Sequence[int], rng: np.random.Generator) -> Outcome:
        alive = list(subset)
        cost = Spend()
        ranking: list[int] = []
        scores: dict[int, float] = {}
        for i, rate in enumerate(rates):
            rung = {c: runs.target(c, rate) for c in alive}
            cost += Spend.total(runs.spend(c, rate) for c in alive)
            ordered = sorted(alive, key=rung.__getitem__)
            if i == len(rates) - 1:
                ranking = ordered + ranking
                scores.update(rung)
                break
            keep = max(keep_at_least, math.ceil(len(alive) / eta))
            ranking = ordered[keep:] + ranking
            scores.update({c: rung[c] for c in ordered[keep:]})
            alive = ordered[:keep]
        return Outcome(ranking, cost, scores)

    return run


def optuna_pruner(make: Callable[[int], optuna.pruners.BasePruner], rate: float = 1.0) -> Method:
    """An Optuna pruner fed the same values a user would report: the recent-window mean at each
    window (Wilcoxon: each window's own metric, windows as paired instances). Trials run one
    after another, as in a sequential Optuna study."""

    def run(runs: Runs, subset: Sequence[int], rng: np.random.Generator) -> Outcome:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        pruner = make(runs.windows)
        wilcoxon = isinstance(pruner, optuna.pruners.WilcoxonPruner)
        # HyperbandPruner assigns brackets by a hash of the study name: name it from the seed so
        # the benchmark is reproducible.
        name = f"bench-{int(rng.integers(1 << 31))}"
        study = optuna.create_study(direction="minimize", pruner=pruner, study_name=name)
        cost = Spend()
        finals: dict[int, float] = {}
        stopped: dict[int, tuple[int, float]] = {}
        for c in (int(x) for x in rng.permutation(np.array(subset))):
            traj = runs.runs[(c, rate)]
            trial = study.ask()
            pruned_at = None
            for w in range(runs.windows):
                if traj.empty[w]:
                    continue  # no examples: nothing to report at this step (missing data)
                value = float(traj.logloss[w]) if wilcoxon else _recent(traj, w + 1)
                if not math.isfinite(value):
                    continue
                trial.report(value, w)
                if trial.should_prune():
                    pruned_at = w + 1
                    break
            position = pruned_at or runs.windows
            cost += runs.spend(c, rate, position)
            if pruned_at is None:
                finals[c] = runs.target(c, rate)
                study.tell(trial, finals[c])
            else:
                stopped[c] = (position, _recent(traj, position))
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        others = sorted(stopped, key=lambda c: (-stopped[c][0], stopped[c][1]))
        complete = set(finals) if rate >= FULL_RATE and runs.eval_rate >= 1.0 else set()
        return Outcome(sorted(finals, key=finals.__getitem__) + others, cost, finals, complete)

    return run


def _candidates(
    runs: Runs, subset: Sequence[int], rates: Sequence[float], ran: Sequence[set[int]]
) -> Candidates:
    """What the runs so far say, as a promotion policy sees it: row i is ``subset[i]``, column j
    its target at ``rates[j]`` if it ran there (``ran[i]``). A run that diverged anywhere (a
    scored window without a finite metric), or whose target is not finite, marks the row."""
    targets = np.full((len(subset), len(rates)), np.nan)
    diverged = np.zeros(len(subset), dtype=bool)
    for i, c in enumerate(subset):
        for j in ran[i]:
            run = runs.runs[(c, rates[j])]
            value = run.target(runs.eval_windows)
            if run.diverged() or not math.isfinite(value):
                diverged[i] = True
            else:
                targets[i, j] = value
    families = [runs.families.get(c, "") for c in subset]
    return Candidates.of(targets, rates, families, diverged)


def family_best(rate: float, per_family: int = 1) -> Method:
    """Issue 16, lead 4: every configuration on a ``rate`` sample (as two-step), then the best
    ``per_family`` of each model family first, the rest by their rank (engine policy
    ``family``)."""
    policy = promotion_by_name("family", per_family=per_family)

    def run(runs: Runs, subset: Sequence[int], rng: np.random.Generator) -> Outcome:
        cand = _candidates(runs, subset, [rate], [{0} for _ in subset])
        ranking = policy.rank(cand)
        cost = Spend.total(runs.spend(c, rate) for c in subset)
        scores = {c: float(ranking.scores[i]) for i, c in enumerate(subset)}
        scores = {c: v for c, v in scores.items() if math.isfinite(v)}
        return Outcome([subset[int(i)] for i in ranking.promote], cost, scores)

    return run


def extrapolation(
    rates: Sequence[float],
    eta: float = 3.0,
    keep_at_least: int = 3,
    z: float = 1.0,
    per_family: int = 2,
) -> Method:
    """Issue 16, lead 2: the rate-halving ladder (same rates, same rung sizes), but at every
    rung the engine's ``extrapolate`` policy fits a bounded power law in the rate to each
    configuration's targets so far (exponent pooled per model family) and predicts its
    full-data target: the best ``per_family`` of each family and then the rest by optimistic
    bound continue to the next rate; stage 2 takes them by pessimistic bound. A run that
    diverged at any rate is never continued nor promoted."""
    policy = promotion_by_name("extrapolate", z=z, per_family=per_family)

    def run(runs: Runs, subset: Sequence[int], rng: np.random.Generator) -> Outcome:
        subset = list(subset)
        ran: list[set[int]] = [set() for _ in subset]
        alive = list(range(len(subset)))
        cost = Spend()
        cand = _candidates(runs, subset, rates, ran)
        ranking = policy.rank(cand)
        for j, rate in enumerate(rates):
            for i in alive:
                ran[i].add(j)
            cost += Spend.total(runs.spend(subset[i], rate) for i in alive)
            cand = _candidates(runs, subset, rates, ran)
            ranking = policy.rank(cand)
            if j == len(rates) - 1:
                break
            keep = max(keep_at_least, math.ceil(len(alive) / eta))
            usable = cand.usable()
            living = set(alive)
            alive = [int(i) for i in ranking.advance if int(i) in living and usable[i]][:keep]
        scores = {c: float(ranking.scores[i]) for i, c in enumerate(subset)}
        scores = {c: v for c, v in scores.items() if math.isfinite(v)}
        return Outcome([subset[int(i)] for i in ranking.promote], cost, scores)

    return run


def _features(runs: Runs, subset: Sequence[int]) -> np.ndarray:
    """The configurations' encoded hyperparameters; none (zero columns) if the runs do not
    name them: the policy then learns from the stage-1 target alone."""
    if not all(c in runs.params for c in subset):
        return np.zeros((len(subset), 0))
    return np.array([encode(runs.params[c], SPACE) for c in subset])


def _finite_target(runs: Runs, c: int, rate: float) -> float:
    """A run's target, NaN if it diverged (a history policy ranks it last)."""
    run = runs.runs[(c, rate)]
    value = run.target(runs.eval_windows)
    return value if math.isfinite(value) and not run.diverged() else float("nan")


def earlier_searches(
    runs: Runs,
    subset: Sequence[int],
    rate: float,
    every: int = 7,
    known: str = "stage2",
    k: int = 3,
    min_horizon: int | None = None,
) -> list[Search]:
    """Issue 16, lead 3, leave-future-out: the searches of ``subset`` that ended ``every``,
    ``2 * every``, ... windows before this one (not before ``min_horizon``, by default two
    evaluation spans), replayed from the cached runs cut at their horizon. Each saw its
    configurations' ``rate`` runs up to its horizon; the full-data target it knows is that of
    the ``k`` it trained in full (``known="stage2"``: the top k of its stage-1 ranking, as a
    two-step search promotes) or of all (``known="all"``: earlier full searches, a bound)."""
    if known not in ("stage2", "all"):
        raise ValueError(f"known must be 'stage2' or 'all', not {known!r}")
    low = 2 * runs.eval_windows if min_horizon is None else min_horizon
    features = _features(runs, subset)
    out = []
    horizon = runs.windows - every
    while horizon >= low:
        past = runs.until(horizon)
        stage1 = np.array([_finite_target(past, c, rate) for c in subset])
        full = np.array([_finite_target(past, c, FULL_RATE) for c in subset])
        if known == "stage2":
            ranked = np.lexsort(
                (np.arange(len(subset)), np.where(np.isfinite(stage1), stage1, np.inf))
            )
            trained = np.zeros(len(subset), dtype=bool)
            trained[ranked[:k]] = True
            full = np.where(trained, full, np.nan)
        out.append(Search(features, stage1, full, np.array(subset), horizon))
        horizon -= every
    return out[::-1]


def history(
    rate: float,
    policy: str = "residual",
    every: int = 7,
    known: str = "stage2",
    k: int = 3,
    weights: list[float] | None = None,
    **settings: Any,
) -> Method:
    """Issue 16, lead 3: two-step at ``rate`` (every configuration on a ``rate`` sample), ranked
    by the engine's history policy ``policy`` fitted on the earlier searches of the same
    configurations (:func:`earlier_searches`: only searches that ended before this one). The
    earlier searches' compute is not charged: they ran anyway. ``weights``: if given, each
    search's applied correction weight is appended (0: the guard kept the plain ranking).
    ``settings``: the policy's own."""
    ranker = history_by_name(policy, **settings)

    def run(runs: Runs, subset: Sequence[int], rng: np.random.Generator) -> Outcome:
        subset = list(subset)
        past = earlier_searches(runs, subset, rate, every, known, k)
        features = _features(runs, subset)
        stage1 = np.array([_finite_target(runs, c, rate) for c in subset])
        ranking = ranker.rank(past, features, stage1)
        if weights is not None:
            weights.append(ranking.weight)
        cost = Spend.total(runs.spend(c, rate) for c in subset)
        scores = {c: float(ranking.scores[i]) for i, c in enumerate(subset)}
        scores = {c: v for c, v in scores.items() if math.isfinite(v)}
        diverged = {c for i, c in enumerate(subset) if not math.isfinite(stage1[i])}
        return Outcome([subset[int(i)] for i in ranking.order], cost, scores, diverged=diverged)

    return run
