"""Rate-aware hyperparameter transfer (issue 16, lead 1): the math, clipping, the planner's use
of it (stage-1 runs get transformed params, everything else names the configuration) and the
spec's validation of it."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypersearch.engine import Finish, StartTrial, TrialState
from hypersearch.engine.planner import Search, run_params, trial_env
from hypersearch.engine.transfer import (
    NoTransfer,
    RateAwareTransfer,
    transfer_by_name,
    transfer_from_spec,
)
from hypersearch.replay import replay
from hypersearch.spec import SpecInvalid, check, parse
from hypersearch.spec.model import Parameter

from tests.engine.synthetic import make_world

SPACE = (
    Parameter("lr", "double", 0.001, 0.3, "log"),
    Parameter("batch_size", "int", 8, 4096),
    Parameter("weight_decay", "double", 1e-8, 1e-2, "log"),
    Parameter("optimizer", "categorical", values=("sgd", "adam")),
)
CONFIG: dict[str, Any] = {"lr": 0.01, "batch_size": 1024, "weight_decay": 1e-5, "optimizer": "adam"}


def test_default_rate_aware_keeps_updates_per_window_and_every_other_timescale() -> None:
    out = RateAwareTransfer().apply(CONFIG, SPACE, 0.1)
    assert out.params["batch_size"] == 102 and isinstance(out.params["batch_size"], int)
    assert out.params["lr"] == 0.01 and not out.clipped
    # Rounding 102.4 to 102 leaves 0.4% more updates per window: weight decay follows only
    # that rounding (per window, updates x lr x wd is the full run's).
    assert math.isclose(float(out.params["weight_decay"]), 1e-5 * (102 / 1024) / 0.1)
    assert out.changes[0] == "batch_size 1024->102"


def test_lr_rule_and_weight_decay_timescale_for_a_fixed_batch() -> None:
    t = RateAwareTransfer(batch_exponent=0.0, lr_exponent=-0.5)
    out = t.apply(CONFIG, SPACE, 0.04)
    assert out.params["batch_size"] == 1024
    assert math.isclose(float(out.params["lr"]), 0.05)  # 0.01 * 0.04**-0.5
    # decay per window = (s N / B) lr' wd' must equal (N / B) lr wd: wd' = wd (lr/lr') / s.
    assert math.isclose(float(out.params["weight_decay"]), 1e-5 * (0.01 / 0.05) / 0.04)
    assert not out.clipped
    unchanged = RateAwareTransfer(batch_exponent=0.0, lr_exponent=-0.5, weight_decay="unchanged")
    assert unchanged.apply(CONFIG, SPACE, 0.04).params["weight_decay"] == 1e-5


def test_values_are_clipped_to_the_parameter_bounds_and_reported() -> None:
    t = RateAwareTransfer(batch_exponent=1.0, lr_exponent=-1.0)
    out = t.apply(CONFIG, SPACE, 0.001)
    assert out.params["batch_size"] == 8  # 1.024 -> the parameter's min
    assert out.params["lr"] == 0.3  # 10.0 -> the parameter's max
    assert any("batch_size" in c and "min 8" in c for c in out.clipped)
    assert any("lr 10->0.3" in c and "max 0.3" in c for c in out.clipped)
    # weight decay from the clipped values: (8/1024) (0.01/0.3) / 0.001 = 0.26 x, in bounds.
    assert math.isclose(float(out.params["weight_decay"]), 1e-5 * (8 / 1024) * (0.01 / 0.3) / 1e-3)
    assert "clipped: " in out.note() and out.note().startswith("stage-1 params transformed")


def test_batch_outside_the_space_is_at_least_one_and_keeps_its_type() -> None:
    """A categorical batch size (``"512"``) or one the space does not bound: only >= 1."""
    space = (Parameter("batch_size", "categorical", values=("512", "1024")),)
    out = RateAwareTransfer().apply({"batch_size": "512", "lr": 0.1}, space, 0.001)
    assert out.params == {"batch_size": "1", "lr": 0.1}
    assert out.clipped == ("batch_size 0.512->1 (clipped to at least 1)",)
    # No batch or weight decay in the configuration: left to the trainer's default.
    out = RateAwareTransfer(lr_exponent=-0.5).apply({"lr": 0.1, "model": "fm"}, (), 0.25)
    assert out.params == {"lr": 0.2, "model": "fm"}


def test_full_data_and_none_are_the_identity() -> None:
    assert RateAwareTransfer(lr_exponent=-0.5).apply(CONFIG, SPACE, 1.0).params == CONFIG
    assert NoTransfer().apply(CONFIG, SPACE, 0.01).params == CONFIG
    assert isinstance(transfer_by_name("none"), NoTransfer)
    with pytest.raises(ValueError, match="unknown transfer 'sqrt'"):
        transfer_by_name("sqrt")


N, T = 9, 30


def transfer_spec(**transfer: Any):  # type: ignore[no-untyped-def]
    """A grid over configs and learning rates, stage 1 at 25% data, one rate-aware transfer."""
    doc = {
        "apiVersion": "hypersearch.dev/v1alpha1",
        "kind": "HyperSearch",
        "metadata": {"name": "xfer"},
        "spec": {
            "stream": {"windows": T, "windowName": "day"},
            "parameters": [
                {"name": "config", "type": "categorical", "values": [str(i) for i in range(3)]},
                {"name": "lr", "type": "double", "min": 0.01, "max": 0.05},
            ],
            "sampler": {"name": "grid", "gridPoints": 3},
            "trials": N,
            "parallelism": N,
            "stage1": {"data": {"rate": 0.25}, "transfer": transfer},
            "stage2": {"topK": 2},
            "trialTemplate": {"spec": {"containers": [{"name": "t", "command": ["true"],
                                                       "args": ["--lr={{params.lr}}"]}]}},
        },
    }  # fmt: skip
    return parse(doc)


def test_stage1_runs_get_transformed_params_and_results_name_the_configuration() -> None:
    spec = transfer_spec(name="rate-aware", lrExponent=-0.5)
    assert transfer_from_spec(spec.transfer).apply({"lr": 0.01}, spec.parameters, 0.25).params == {
        "lr": 0.02
    }
    world = make_world(3, T, seed=2)

    search = Search(spec)
    starts = [a for a in search.step() if isinstance(a, StartTrial)]
    for a in starts:
        lr = float(a.params["lr"])
        assert a.stage == 1
        expected = min(lr * 2.0, 0.05)  # 0.25**-0.5 = 2, clipped at the parameter's max
        assert math.isclose(float(a.trainer_params["lr"]), expected)
        assert a.env["HS_PARAM_lr"] == str(a.trainer_params["lr"])
        # run_params only where they differ (lr = 0.05 is clipped back to itself).
        assert (a.run_params is None) == (lr == 0.05)
        trial = search.trials[a.trial]
        assert trial.params == a.params  # the record names the configuration
        if lr * 2.0 > 0.05:
            assert "clipped: lr" in trial.reason and "max 0.05" in trial.reason
        else:
            assert trial.reason.startswith("stage-1 params transformed")
    # The whole search (the replay looks curves up by the configuration): stage 2 untransformed.
    result = replay(spec, world.curves)
    assert isinstance(result.finish, Finish) and result.finish.succeeded
    stage1 = [t for t in result.search.trials if t.stage == 1]
    stage2 = [t for t in result.search.trials if t.stage == 2]
    assert stage2 and all(t.params == stage1[t.source or 0].params for t in stage2)
    for t in stage2:
        assert trial_env(spec, t)["HS_PARAM_lr"] == str(t.params["lr"])
        assert run_params(spec, t).params == t.params
    clipped = [t for t in stage1 if float(t.params["lr"]) * 2 > 0.05]
    assert clipped and all(
        "transfer clipped lr" in t.reason for t in clipped if t.state is not TrialState.FAILED
    )
    summary = result.search.summary()
    assert summary["promoted"] == [stage1[i].name for i in result.search.promoted]


def test_no_transfer_by_default_and_a_restored_search_rebuilds_the_same_start() -> None:
    spec = transfer_spec()
    assert spec.transfer.name == "none"
    starts = [a for a in Search(spec).step() if isinstance(a, StartTrial)]
    assert all(a.run_params is None and a.trainer_params == a.params for a in starts)
    spec = transfer_spec(name="rate-aware", lrExponent=-0.5)
    search = Search(spec)
    first = [a for a in search.step() if isinstance(a, StartTrial)]
    restored = Search.from_state(spec, search.to_state())
    from hypersearch.engine.planner import start_action

    again = [start_action(spec, t) for t in restored.trials]
    assert [(a.params, a.run_params, a.env) for a in again] == [
        (a.params, a.run_params, a.env) for a in first
    ]


def base_doc(**transfer: Any) -> dict[str, Any]:
    return {
        "apiVersion": "hypersearch.dev/v1alpha1",
        "kind": "HyperSearch",
        "metadata": {"name": "v"},
        "spec": {
            "stream": {"windows": 30},
            "parameters": [
                {"name": "lr", "type": "double", "min": 0.001, "max": 0.3},
                {"name": "opt", "type": "categorical", "values": ["sgd", "adam"]},
            ],
            "stage1": {"data": {"rate": 0.1}, "transfer": transfer},
            "trialTemplate": {"spec": {"containers": [{"name": "t", "command": ["true"]}]}},
        },
    }


@pytest.mark.parametrize(
    ("transfer", "path", "text"),
    [
        ({"name": "sqrt"}, "spec.stage1.transfer.name", "not one of: none, rate-aware"),
        ({"name": "rate-aware", "lrExponent": 3}, "spec.stage1.transfer.lrExponent", "maximum"),
        ({"name": "rate-aware", "batchExponent": -1}, "spec.stage1.transfer.batchExponent", ""),
        ({"name": "rate-aware", "weightDecay": "x"}, "spec.stage1.transfer.weightDecay", ""),
        ({"name": "rate-aware", "speed": 1}, "spec.stage1.transfer.speed", "unknown field"),
        ({"lrExponent": -0.5}, "spec.stage1.transfer.lrExponent", "only the rate-aware"),
        (
            {"name": "rate-aware", "lrExponent": float("nan")},
            "spec.stage1.transfer.lrExponent",
            "finite",
        ),
        (
            {"name": "rate-aware", "parameters": {"batchSize": "bs"}},
            "spec.stage1.transfer.parameters.batchSize",
            "'bs' is not a parameter",
        ),
        (
            {"name": "rate-aware", "parameters": {"learningRate": "opt"}},
            "spec.stage1.transfer.parameters.learningRate",
            "not numbers",
        ),
    ],
)
def test_a_bad_transfer_is_reported_at_its_field(
    transfer: dict[str, Any], path: str, text: str
) -> None:
    _, errors = check(base_doc(**transfer))
    assert path in {e.path for e in errors}, errors
    assert text in " ".join(e.message for e in errors if e.path == path)
    with pytest.raises(SpecInvalid):
        parse(base_doc(**transfer))


def test_transfer_knobs_are_parsed() -> None:
    spec = parse(
        base_doc(
            name="rate-aware",
            batchExponent=0.5,
            lrExponent=-0.5,
            weightDecay="unchanged",
            parameters={"learningRate": "lr"},
        )
    )
    t = spec.transfer
    assert (t.name, t.batch_exponent, t.lr_exponent, t.weight_decay) == (
        "rate-aware",
        0.5,
        -0.5,
        "unchanged",
    )
    assert (t.lr_param, t.batch_param, t.weight_decay_param) == ("lr", "batch_size", "weight_decay")
    assert parse(base_doc()).transfer.name == "none"
