"""Issue 16, lead 3: the history policy learns a known stage-1 -> full-data mapping from earlier
searches, and keeps the plain stage-1 ranking when history is misleading or too thin."""

from __future__ import annotations

import numpy as np
import pytest
from hypersearch.engine.history import (
    HISTORY_POLICIES,
    ResidualPolicy,
    Search,
    encode,
    history_by_name,
)
from hypersearch.spec.model import Parameter
from scipy.stats import kendalltau

N, D = 24, 3
BIAS = 0.05  # stage 1 over-rates configurations with a large first feature (e.g. a high lr)


def search(
    rng: np.random.Generator, sign: float = 1.0, horizon: int = 0, noise: float = 5e-4
) -> tuple[Search, np.ndarray]:
    """One search of N fresh configurations: full-data target = a quality of the features plus
    a drift level of this horizon; the stage-1 target = full - sign * BIAS * x0 (+ noise), so a
    plain stage-1 ranking puts large x0 too high."""
    x = rng.uniform(0, 1, (N, D))
    full = 0.4 + 0.03 * (x[:, 1] - 0.5) ** 2 + rng.uniform(0, 0.01, N) + 0.02 * np.sin(horizon)
    stage1 = full - sign * BIAS * x[:, 0] + 0.1 + rng.normal(0, noise, N)
    return Search(x, stage1, full, horizon=horizon), full


def test_recovers_a_known_mapping() -> None:
    rng = np.random.default_rng(1)
    history = [search(rng, horizon=h)[0] for h in range(5)]
    new, truth = search(rng, horizon=5)
    plain = kendalltau(new.stage1, truth).statistic
    # The default penalty shrinks the learned bias a little (corrected - stage1 ~ BIAS * x0, up
    # to a constant); a light one recovers it and with it the true ranking.
    out = ResidualPolicy().rank(history, new.features, new.stage1)
    assert out.weight > 0.9, out.reason
    fitted = np.polyfit(new.features[:, 0], out.scores - new.stage1, 1)[0]
    assert fitted == pytest.approx(BIAS, rel=0.2)
    light = ResidualPolicy(ridge=0.01).rank(history, new.features, new.stage1)
    assert light.weight > 0.9, light.reason
    assert np.polyfit(new.features[:, 0], light.scores - new.stage1, 1)[0] == pytest.approx(
        BIAS, rel=0.05
    )
    assert kendalltau(light.scores, truth).statistic > max(0.85, plain + 0.5)
    assert truth[light.order[0]] - truth.min() < 0.001  # the best (or a near-tie) first


def test_keeps_the_plain_ranking_when_history_disagrees() -> None:
    """Earlier searches whose bias flips sign from one to the next: a correction fitted on the
    earlier ones misorders the next, so the guard applies none."""
    rng = np.random.default_rng(2)
    history = [search(rng, sign=(-1.0) ** h, horizon=h)[0] for h in range(6)]
    new, _ = search(rng, horizon=6)
    out = ResidualPolicy().rank(history, new.features, new.stage1)
    assert out.weight == 0.0
    assert "disagrees" in out.reason
    np.testing.assert_array_equal(out.order, np.argsort(new.stage1, kind="stable"))
    # Without the guard the same history moves the ranking.
    free = ResidualPolicy(guard="off").rank(history, new.features, new.stage1)
    assert free.weight == 1.0
    assert not np.array_equal(free.order, out.order)


def test_too_little_history_is_the_plain_ranking() -> None:
    rng = np.random.default_rng(3)
    new, _ = search(rng)
    thin, _ = search(rng)
    thin = Search(thin.features, thin.stage1, np.where(np.arange(N) < 3, thin.full, np.nan))
    for history in ([], [thin]):
        out = ResidualPolicy().rank(history, new.features, new.stage1)
        assert out.weight == 0.0
        np.testing.assert_array_equal(out.order, np.argsort(new.stage1, kind="stable"))


def test_a_diverged_row_ranks_last_and_unknown_rows_teach_nothing() -> None:
    rng = np.random.default_rng(4)
    history = [search(rng, horizon=h)[0] for h in range(4)]
    h0 = history[0]
    # Earlier rows without a full-data target (or a diverged stage 1) are left out, not zero.
    history[0] = Search(h0.features, np.where(np.arange(N) == 0, np.nan, h0.stage1), h0.full)
    new, _ = search(rng, horizon=4)
    stage1 = new.stage1.copy()
    stage1[[2, 5]] = [np.nan, np.inf]
    for name in HISTORY_POLICIES:
        out = history_by_name(name).rank(history, new.features, stage1)
        assert set(out.order[-2:].tolist()) == {2, 5}
        assert np.isinf(out.scores[[2, 5]]).all()


def test_registry_and_settings() -> None:
    assert set(HISTORY_POLICIES) == {"none", "residual"}
    assert history_by_name("none").rank([], np.zeros((2, 1)), np.array([2.0, 1.0])).order[0] == 1
    with pytest.raises(ValueError, match="unknown history policy"):
        history_by_name("rgpe")
    with pytest.raises(ValueError):
        ResidualPolicy(guard="maybe")
    with pytest.raises(ValueError):
        Search(np.zeros((3, 1)), np.zeros(2), np.zeros(2))


def test_encode() -> None:
    space = (
        Parameter("model", "categorical", values=("fm", "lr")),
        Parameter("lr", "double", 0.001, 0.1, "log"),
        Parameter("layers", "int", 1, 5),
        Parameter("batch", "categorical", values=("512", "2048")),
    )
    x = encode({"model": "lr", "lr": 0.01, "layers": 2, "batch": "2048"}, space)
    np.testing.assert_allclose(x, [0, 1, 0.5, 0.25, 0, 1, 1])


def test_corrects_only_as_deep_as_the_earlier_searches_knew() -> None:
    """Earlier searches that knew full-data targets only for their stage-1 top 3 (the usual
    case: their stage 2). Among those three the stage-1 differences overstate the full-data
    ones (full - stage1 falls steeply with stage1), a relation the fit learns and the guard
    confirms; extrapolated to a poor configuration it would turn the worst stage-1 rows into
    the best. Only the top 3 may be reordered; the rest keep their plain order behind them."""
    rng = np.random.default_rng(3)

    def top3_search(horizon: int) -> Search:
        x = rng.uniform(0, 1, (N, D))
        stage1 = 0.4 + 0.05 * x[:, 0] + rng.normal(0, 0.01, N)
        order = np.argsort(stage1)
        full = np.full(N, np.nan)
        top = order[:3]
        # Among the selected, the full-data target barely follows stage 1 (regression to the
        # mean), plus a small preference for a low second feature.
        full[top] = stage1[top].mean() + 0.1 * (stage1[top] - stage1[top].mean())
        full[top] += 0.002 * x[top, 1]
        return Search(x, stage1, full, horizon=horizon)

    history = [top3_search(h) for h in range(8)]
    x = rng.uniform(0, 1, (N, D))
    stage1 = 0.4 + 0.05 * x[:, 0] + rng.normal(0, 0.01, N)
    out = ResidualPolicy(guard="off").rank(history, x, stage1)
    plain = np.argsort(stage1, kind="stable")
    assert set(out.order[:3].tolist()) == set(plain[:3].tolist()), out.reason
    assert out.order[3:].tolist() == plain[3:].tolist()
    assert "to the best 3 by stage 1" in out.reason
