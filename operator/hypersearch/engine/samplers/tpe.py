"""TPE through Optuna's ask-and-tell interface, told each finished trial's predicted target.

The study is rebuilt from the history on every draw and the sampler seeded with the trial index,
so a draw depends only on (seed, index, history): a restored search draws the same configuration.
"""

from __future__ import annotations

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from hypersearch.engine.samplers.base import History, Params, Sampler, draw_seed
from hypersearch.spec.model import Parameter


def distribution(p: Parameter) -> BaseDistribution:
    """Optuna's distribution for one of our parameters."""
    if p.type == "categorical":
        return CategoricalDistribution(list(p.values))
    assert p.min is not None and p.max is not None
    log = p.scale == "log"
    if p.type == "int":
        step = 1 if log or not p.step else int(p.step)
        return IntDistribution(int(p.min), int(p.max), log=log, step=step)
    return FloatDistribution(float(p.min), float(p.max), log=log, step=None if log else p.step)


class TPESampler(Sampler):
    name = "tpe"

    def sample(self, index: int, history: History) -> Params:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        dists = {p.name: distribution(p) for p in self.parameters}
        sampler = optuna.samplers.TPESampler(
            seed=draw_seed(self.seed, index), n_startup_trials=self.settings.startup_trials
        )
        study = optuna.create_study(direction="minimize", sampler=sampler)
        for params, value in history:
            study.add_trial(
                optuna.trial.create_trial(params=dict(params), distributions=dists, value=value)
            )
        trial = study.ask(dists)
        return {p.name: trial.params[p.name] for p in self.parameters}
