"""Extrapolation across rates (issue 16, lead 2): predict the full-data target from runs at
lower data rates, and promote by a confidence rule.

Per configuration ``i`` of model family ``f``, the target of a run at data rate ``s`` is

    y_i(s) = a_i + b_i * s^(-c_f),        c_f in [c_min, c_max]

(a bounded power law in the data size, Hestness et al. arXiv 1712.00409; the exponent pooled per
family, as the families' data hunger differs, Ardalani et al. arXiv 2208.08489). For a fixed
``c`` each row is a straight line in ``x = s^(-c)``, fitted by least squares; ``c_f`` minimises
the family's squared residuals over a grid, regularised towards ``c_prior`` in log space (with
two rates per configuration the residuals cannot tell ``c`` apart, and the prior decides). The
prediction at the full-training rate ``a_i + b_i * target_rate^(-c_f)`` carries two
uncertainties: the noise (pooled residual variance, propagated through the line) and the
exponent (the spread of the prediction over every ``c`` the family's data leave plausible).

A configuration run at one rate only is moved by its family's median shift from that rate to
the prediction (the family's rows run at two or more rates; every family's when its own have
none), with that shift's spread as its uncertainty; with no row at two rates the prediction is
the plain low-rate target.

The confidence rule: configurations *continue* up a ladder in the order of their optimistic
bound (``mean - z * std``: they could still be among the best) and are *promoted* to stage 2 in
the order of their pessimistic bound (``mean + z * std``: confidently good). A run that diverged
at any rate is never continued nor promoted (see :mod:`hypersearch.engine.promotion.base`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from hypersearch.engine.promotion.base import Candidates, Promotion, Ranking, guarded_order
from hypersearch.engine.promotion.family import family_first

C_GRID = 61


@dataclass(frozen=True)
class PowerLawFit:
    """Per row: predicted target at the full-training rate, its std, and the exponent used;
    per family: the fitted exponent and whether the data (not the prior alone) chose it."""

    mean: np.ndarray
    std: np.ndarray
    exponent: np.ndarray
    family_exponent: dict[str, float]
    family_fitted: dict[str, bool]


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float, float]:
    """Least squares ``y = a + b x``: a, b, residual SSE, mean of x, Sxx."""
    xm = float(x.mean())
    sxx = float(((x - xm) ** 2).sum())
    b = float(((x - xm) * (y - y.mean())).sum() / sxx) if sxx > 0 else 0.0
    a = float(y.mean() - b * xm)
    sse = float(((y - a - b * x) ** 2).sum())
    return a, b, sse, xm, sxx


def fit_power_law(
    targets: np.ndarray,
    rates: Sequence[float] | np.ndarray,
    families: Sequence[str],
    target_rate: float = 1.0,
    *,
    c_bounds: tuple[float, float] = (0.05, 1.5),
    c_prior: float = 0.3,
    c_prior_width: float = math.log(3.0),
) -> PowerLawFit:
    """Fit ``y = a_i + b_i s^(-c_f)`` to every row of ``targets`` (rows x rates, NaN = not run;
    rows must be finite where observed) and predict each row at ``target_rate``."""
    y_all = np.asarray(targets, dtype=float)
    s = np.asarray(rates, dtype=float)
    n = y_all.shape[0]
    grid = np.exp(np.linspace(math.log(c_bounds[0]), math.log(c_bounds[1]), C_GRID))
    prior = ((np.log(grid) - math.log(c_prior)) / c_prior_width) ** 2
    seen = ~np.isnan(y_all)
    counts = seen.sum(axis=1)
    fam = np.array(list(families), dtype=object)
    multi = counts >= 2

    # Residual SSE per family and exponent; the noise variance pooled over every family at its
    # own best exponent (degrees of freedom: points beyond the two each line uses).
    sse = {f: np.zeros(grid.size) for f in dict.fromkeys(fam.tolist())}
    for i in np.flatnonzero(multi):
        xs, ys = s[seen[i]], y_all[i, seen[i]]
        for g, c in enumerate(grid):
            sse[fam[i]][g] += _line(xs**-c, ys)[2]
    dof = int((counts[multi] - 2).sum())
    noise_var = sum(float(v.min()) for v in sse.values()) / dof if dof > 0 else 0.0
    noise_var = max(noise_var, 1e-12)

    mean = np.full(n, np.nan)
    std = np.full(n, np.nan)
    exponent = np.full(n, np.nan)
    family_exponent: dict[str, float] = {}
    family_fitted: dict[str, bool] = {}
    for f, f_sse in sse.items():
        rows = np.flatnonzero((fam == f) & multi)
        fitted = dof > 0 and bool(((counts[rows] - 2) > 0).any())
        objective = prior + (f_sse / noise_var if fitted else 0.0)
        best = int(np.argmin(objective))
        plausible = grid[objective <= objective[best] + 1.0]  # ~1 sd of the profile
        family_exponent[f], family_fitted[f] = float(grid[best]), fitted
        for i in rows:
            xs, ys = s[seen[i]], y_all[i, seen[i]]
            preds = []
            for c in plausible:
                a, b, *_ = _line(xs**-c, ys)
                preds.append(a + b * target_rate**-c)
            c = grid[best]
            x = xs**-c
            a, b, _, xm, sxx = _line(x, ys)
            x0 = target_rate**-c
            noise = noise_var * (1.0 / x.size + ((x0 - xm) ** 2 / sxx if sxx > 0 else 0.0))
            spread = (max(preds) - min(preds)) / 2.0
            mean[i] = a + b * x0
            std[i] = math.sqrt(noise + spread**2) if fitted or dof > 0 else spread
            exponent[i] = c

    # Rows run at one rate: their family's median shift from that rate to the prediction.
    single = np.flatnonzero(counts == 1)
    for i in single:
        j = int(np.flatnonzero(seen[i])[0])
        donors = np.flatnonzero(multi & seen[:, j] & (fam == fam[i]))
        if donors.size == 0:
            donors = np.flatnonzero(multi & seen[:, j])
        if donors.size == 0:
            mean[i], std[i] = y_all[i, j], 0.0
            continue
        shift = mean[donors] - y_all[donors, j]
        med = float(np.median(shift))
        mad = 1.4826 * float(np.median(np.abs(shift - med))) if shift.size > 1 else abs(med)
        mean[i] = y_all[i, j] + med
        std[i] = math.sqrt(mad**2 + float(np.median(std[donors])) ** 2)
        exponent[i] = family_exponent.get(fam[i], float("nan"))
    return PowerLawFit(mean, std, exponent, family_exponent, family_fitted)


class ExtrapolationPromotion(Promotion):
    """Rank by the power law's predicted full-data target; continue optimistically, promote
    conservatively (see the module's docstring). ``per_family``: the best of each family by
    optimistic bound continue up the ladder first, so every family's shift gets measured."""

    name: ClassVar[str] = "extrapolate"

    def __init__(
        self,
        *,
        z: float = 1.0,
        per_family: int = 2,
        c_bounds: tuple[float, float] = (0.05, 1.5),
        c_prior: float = 0.3,
    ) -> None:
        if not 0 < c_bounds[0] <= c_prior <= c_bounds[1]:
            raise ValueError("need 0 < c_min <= c_prior <= c_max")
        self.z = z
        self.per_family = per_family
        self.c_bounds = c_bounds
        self.c_prior = c_prior

    def fit(self, candidates: Candidates) -> PowerLawFit:
        usable = candidates.usable()
        targets = np.where(usable[:, None], candidates.targets, np.nan)
        return fit_power_law(
            targets,
            candidates.rates,
            candidates.families,
            candidates.target_rate,
            c_bounds=self.c_bounds,
            c_prior=self.c_prior,
        )

    def rank(self, candidates: Candidates) -> Ranking:
        fit = self.fit(candidates)
        usable = candidates.usable() & np.isfinite(fit.mean) & np.isfinite(fit.std)
        scores = np.where(usable, fit.mean, np.inf)
        promote = guarded_order(fit.mean + self.z * fit.std, usable, fit.mean)
        advance = guarded_order(fit.mean - self.z * fit.std, usable, fit.mean)
        if self.per_family:
            advance = family_first(advance, list(candidates.families), usable, self.per_family)
        return Ranking(promote, advance, scores, np.where(usable, fit.std, np.inf))
