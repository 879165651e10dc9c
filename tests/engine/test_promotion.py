"""Promotion policies (issue 16, leads 2 and 4): plain rank, family-aware, extrapolation across
data rates with a power law; and the guard that no policy promotes a run that diverged."""

from __future__ import annotations

import numpy as np
import pytest
from hypersearch.engine.promotion import (
    PROMOTIONS,
    Candidates,
    ExtrapolationPromotion,
    fit_power_law,
    promotion_by_name,
)

RATES = (0.01, 0.03, 0.1)


def reversal(seed: int = 0, noise: float = 2e-4) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Targets (configs x RATES) of two families whose ranking reverses with data: "lr" learns
    little from more data (small b, steep c), "dlrm" a lot (large b, flat c), so every dlrm
    looks worse than every lr on 10% of the data but the best dlrm wins on all of it."""
    rng = np.random.default_rng(seed)
    n = 8
    a = np.concatenate([0.400 + rng.uniform(0, 0.01, n), 0.345 + rng.uniform(0, 0.03, n)])
    b = np.concatenate([rng.uniform(0.005, 0.008, n), rng.uniform(0.045, 0.055, n)])
    c = np.concatenate([np.full(n, 0.5), np.full(n, 0.3)])
    s = np.array(RATES)
    targets = a[:, None] + b[:, None] * s[None, :] ** -c[:, None]
    targets += rng.normal(0, noise, targets.shape)
    return targets, a + b, ["lr"] * n + ["dlrm"] * n


def test_registry_by_name() -> None:
    assert set(PROMOTIONS) == {"rank", "family", "extrapolate"}
    assert isinstance(promotion_by_name("extrapolate", z=2.0), ExtrapolationPromotion)
    with pytest.raises(ValueError, match="unknown promotion policy 'x'; known: rank"):
        promotion_by_name("x")


def test_power_law_recovers_a_reversal_that_low_rate_ranking_gets_wrong() -> None:
    targets, truth, families = reversal()
    best = int(np.argmin(truth))
    # The premise: at every rate, plain ranking puts the true best outside the top 3.
    for j in range(len(RATES)):
        assert int(np.argsort(targets[:, j]).tolist().index(best)) >= 3
    rank = promotion_by_name("rank").promote(Candidates.of(targets, RATES, families), 3)
    assert best not in rank
    cand = Candidates.of(targets, RATES, families)
    policy = ExtrapolationPromotion()
    promoted = policy.promote(cand, 3)
    assert promoted[0] == best
    fit = policy.fit(cand)
    assert fit.family_fitted == {"lr": True, "dlrm": True}
    assert fit.family_exponent["dlrm"] == pytest.approx(0.3, abs=0.1)
    assert fit.family_exponent["lr"] == pytest.approx(0.5, abs=0.15)
    assert np.abs(fit.mean - truth).max() < 3e-3
    assert (fit.std > 0).all()
    # Its ranking agrees with the truth far better than the 10% ranking does.
    tau_plain = _tau(targets[:, -1], truth)
    tau_fit = _tau(fit.mean, truth)
    assert tau_plain < 0.5 < tau_fit


def test_one_rate_rows_take_their_familys_shift() -> None:
    targets, _, families = reversal()
    partial = targets.copy()
    partial[::2, 1:] = np.nan  # half the configurations ran at 1% only
    fit = fit_power_law(partial, RATES, families)
    # A one-rate dlrm is moved by the dlrm shift, far more than a one-rate lr.
    shift = fit.mean - partial[:, 0]
    assert shift[8] < shift[0] < 0
    assert np.isfinite(fit.std).all()
    # The family shift alone already puts a dlrm first.
    assert families[int(np.nanargmin(fit.mean))] == "dlrm"


def test_two_rates_fall_back_to_the_prior_exponent() -> None:
    targets, _, families = reversal()
    fit = fit_power_law(targets[:, :2], RATES[:2], families, c_prior=0.3)
    assert fit.family_fitted == {"lr": False, "dlrm": False}
    assert fit.family_exponent["lr"] == pytest.approx(0.3, rel=0.05)
    assert (fit.std > 0).all()  # the exponent's spread is its uncertainty


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_run_that_diverged_at_any_rate_is_never_promoted(bad: float) -> None:
    targets, truth, families = reversal()
    best = int(np.argmin(truth))
    flagged = np.zeros(len(truth), dtype=bool)
    if np.isnan(bad):
        flagged[best] = True  # NaN there would read "not run": the caller flags the divergence
    else:
        targets[best, 1] = bad  # inf at 3%: diverged, although 1% and 10% look best
    for name in PROMOTIONS:
        policy = promotion_by_name(name)
        cand = Candidates.of(targets, RATES, families, flagged)
        assert cand.diverged[best]
        ranking = policy.rank(cand)
        assert best not in policy.promote(cand, 3), name
        assert int(ranking.promote[-1]) == best and int(ranking.advance[-1]) == best, name
        assert np.isinf(ranking.scores[best]), name
        # Even asked for every slot, it is left out.
        assert best not in policy.promote(cand, len(truth)), name


def test_family_promotion_takes_each_familys_best() -> None:
    targets, _, families = reversal()
    cand = Candidates.of(targets[:, :1], RATES[:1], families)
    plain = promotion_by_name("rank").promote(cand, 3)
    assert {families[i] for i in plain} == {"lr"}
    promoted = promotion_by_name("family").promote(cand, 3)
    assert {families[i] for i in promoted} == {"lr", "dlrm"}
    dlrm = [i for i in range(len(families)) if families[i] == "dlrm"]
    lr = [i for i in range(len(families)) if families[i] == "lr"]
    assert promoted[0] == min(lr, key=lambda i: targets[i, 0])
    assert promoted[1] == min(dlrm, key=lambda i: targets[i, 0])
    assert promoted[2] == sorted(lr, key=lambda i: targets[i, 0])[1]  # then by overall rank
    with pytest.raises(ValueError):
        promotion_by_name("family", per_family=0)


def test_plain_rank_puts_survivors_of_higher_rates_first() -> None:
    targets = np.array([[0.5, 0.45], [0.4, np.nan], [0.6, 0.44]])
    order = promotion_by_name("rank").rank(Candidates.of(targets, RATES[:2])).promote
    assert order.tolist() == [2, 0, 1]


def _tau(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import kendalltau

    return float(kendalltau(x, y).statistic)
