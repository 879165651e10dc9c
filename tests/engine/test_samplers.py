"""Samplers: seeded, reproducible, inside the space, on the right scale."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypersearch.engine.samplers import SAMPLERS
from hypersearch.engine.samplers.grid import GridSampler
from hypersearch.spec.model import Parameter, SamplerSpec

SPACE = (
    Parameter("lr", "double", 1e-5, 1e-1, "log"),
    Parameter("dim", "int", 4, 64, "log"),
    Parameter("layers", "int", 1, 3),
    Parameter("dropout", "double", 0.0, 0.5, step=0.1),
    Parameter("opt", "categorical", values=("sgd", "adam", "adagrad")),
)


@pytest.mark.parametrize("name", ["random", "sobol", "tpe"])
def test_draws_are_seeded_and_inside_the_space(name: str) -> None:
    settings = SamplerSpec(name=name, startup_trials=5)
    a = SAMPLERS[name](SPACE, 3, settings)
    b = SAMPLERS[name](SPACE, 3, settings)
    other = SAMPLERS[name](SPACE, 4, settings)
    history: list[tuple[dict[str, object], float]] = []
    draws = []
    for i in range(12):
        x = a.sample(i, history)  # type: ignore[arg-type]
        assert x == b.sample(i, history)  # type: ignore[arg-type]
        draws.append(x)
        history.append((x, float(x["lr"])))  # type: ignore[arg-type]
        assert 1e-5 <= x["lr"] <= 1e-1  # type: ignore[operator]
        assert isinstance(x["dim"], int) and 4 <= x["dim"] <= 64
        assert x["layers"] in (1, 2, 3)
        assert math.isclose(float(x["dropout"]) * 10, round(float(x["dropout"]) * 10))
        assert x["opt"] in ("sgd", "adam", "adagrad")
    assert draws[0] != other.sample(0, [])
    if name != "tpe":
        # Log scale: about half the draws fall below the geometric midpoint 1e-3.
        lrs = np.array(
            [float(SAMPLERS[name](SPACE, 3, settings).sample(i, [])["lr"]) for i in range(64)]
        )
        assert 0.3 < np.mean(lrs < 1e-3) < 0.7


def test_grid_enumerates_the_product_once() -> None:
    space = (
        Parameter("lr", "double", 0.01, 1.0, "log"),
        Parameter("layers", "int", 1, 3),
        Parameter("opt", "categorical", values=("sgd", "adam")),
    )
    grid = GridSampler(space, 0, SamplerSpec(name="grid", grid_points=3))
    assert grid.size() == 3 * 3 * 2
    points = [tuple(grid.sample(i, []).values()) for i in range(grid.size())]
    assert len(set(points)) == 18
    assert sorted({p[0] for p in points}) == pytest.approx([0.01, 0.1, 1.0])
    with pytest.raises(IndexError):
        grid.sample(18, [])
