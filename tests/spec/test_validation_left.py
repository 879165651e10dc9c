"""Validation moves left: specs that would fail late (every sampler, or after full training) are
refused by ``check`` naming the field; every seed in range draws in every sampler."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypersearch.engine.samplers import SAMPLERS
from hypersearch.engine.samplers.base import draw_seed
from hypersearch.spec import check, parse
from hypersearch.spec.model import Parameter, SamplerSpec
from hypersearch.spec.schema import apply_defaults
from hypersearch.spec.semantic import SEED_MAX, semantic_errors

MINIMAL: dict[str, Any] = {
    "apiVersion": "hypersearch.dev/v1alpha1",
    "kind": "HyperSearch",
    "metadata": {"name": "mini"},
    "spec": {
        "objective": {"metric": "logloss", "goal": "minimize", "evaluationWindows": 7},
        "stream": {"windows": 30},
        "parameters": [{"name": "lr", "type": "double", "min": 1e-4, "max": 1e-1}],
        "trialTemplate": {"spec": {"containers": [{"name": "t", "command": ["trainer"]}]}},
    },
}

SPACE = (
    Parameter("lr", "double", 1e-5, 1e-1, "log"),
    Parameter("dim", "int", 4, 64, "log"),
    Parameter("opt", "categorical", values=("sgd", "adam")),
)


def doc(**spec_changes: Any) -> dict[str, Any]:
    d = copy.deepcopy(MINIMAL)
    d["spec"].update(spec_changes)
    return d


def errors_at(document: dict[str, Any]) -> dict[str, str]:
    _, errors = check(document)
    return {e.path: e.message for e in errors}


@pytest.mark.parametrize("seed", [-1, -(2**31), SEED_MAX + 1, 2**40])
def test_a_seed_out_of_range_is_refused_naming_spec_seed(seed: int) -> None:
    errors = errors_at(doc(seed=seed))
    assert set(errors) == {"spec.seed"}, errors  # the CRD's bounds, or the semantic rule


@pytest.mark.parametrize("seed", [-1, SEED_MAX + 1])
def test_the_semantic_rule_names_the_seed_range(seed: int) -> None:
    """Also without the CRD's bounds (an operator re-checking a stored object)."""
    spec = apply_defaults(doc(seed=seed))
    errors = {e.path: e.message for e in semantic_errors(spec)}
    assert set(errors) == {"spec.seed"}, errors
    assert str(seed) in errors["spec.seed"] and str(SEED_MAX) in errors["spec.seed"]


@pytest.mark.parametrize("name", sorted(SAMPLERS))
@pytest.mark.parametrize("seed", [0, 4294, 4295, 1_000_000, SEED_MAX])
def test_every_seed_in_range_draws_in_every_sampler(name: str, seed: int) -> None:
    assert errors_at(doc(seed=seed)) == {}
    settings = SamplerSpec(name=name, startup_trials=2, grid_points=2)
    sampler = SAMPLERS[name](SPACE, seed, settings)
    history: list[tuple[dict[str, Any], float]] = []
    for i in range(4):
        x = sampler.sample(i, history)
        assert x == SAMPLERS[name](SPACE, seed, settings).sample(i, history)
        history.append((x, float(x["lr"])))


def test_draw_seeds_fit_32_bits_and_keep_the_draws_of_small_seeds() -> None:
    assert draw_seed(3, 5) == 3 * 1_000_003 + 5  # unchanged where it always fitted
    seeds = {draw_seed(SEED_MAX, i) for i in range(1000)}
    assert len(seeds) == 1000 and all(0 <= s < 2**32 for s in seeds)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"start": 24}, "spec.stage2.data.start"),  # evaluation windows are [23, 30)
        ({"start": 29}, "spec.stage2.data.start"),
        ({"stop": 23}, "spec.stage2.data.stop"),  # no evaluation window at all
        ({"stop": 29}, "spec.stage2.data.stop"),  # the last one missing
        ({"start": 5, "stop": 10}, "spec.stage2.data.stop"),
    ],
)
def test_stage2_data_that_misses_an_evaluation_window_is_refused(
    data: dict[str, int], field: str
) -> None:
    errors = errors_at(doc(stage2={"data": data}))
    assert field in errors, errors
    assert "[23, 30)" in errors[field] and "evaluation windows" in errors[field]


@pytest.mark.parametrize(
    "data", [{}, {"start": 23}, {"start": 0, "stop": 30}, {"start": 10, "rate": 0.5}]
)
def test_stage2_data_covering_the_evaluation_windows_is_valid(data: dict[str, int]) -> None:
    spec = parse(doc(stage2={"data": data}))
    assert set(spec.target_windows) <= set(range(spec.stage2_data.start, spec.stage2_data.stop))


def test_a_bad_stage2_range_is_reported_once_per_field() -> None:
    """Errors the range checks already give are not repeated by the coverage check."""
    _, errors = check(doc(stage2={"data": {"start": 40, "stop": 3}}))
    by_field = [e.path for e in errors]
    assert sorted(by_field) == ["spec.stage2.data.start", "spec.stage2.data.stop"]
