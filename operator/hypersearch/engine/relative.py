"""The relative metric: ``m_c(w) = alpha_w + beta_c``, fitted jointly (two-way fixed effects).

Drift is shared by every run, so a run's quality is its gap ``beta_c`` to the window effect
``alpha_w``. Estimating ``alpha_w`` as the plain cohort mean (or median) of whoever observed ``w``
is biased once losers have been stopped: late windows are seen only by the survivors, and the
window effect absorbs their quality. Solving the normal equations jointly adjusts each window's
effect for *who* observed it, which removes that survivorship bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AdditiveFit:
    """Window effects ``alpha`` (NaN where no trial observed a window) and trial gaps ``beta``."""

    alpha: np.ndarray
    beta: np.ndarray

    def residuals(self, values: np.ndarray) -> np.ndarray:
        """``m_c(w) - alpha_w``: each observation relative to the shared window effect."""
        out: np.ndarray = values - self.alpha[None, :]
        return out


def fit_additive(values: np.ndarray) -> AdditiveFit:
    """Least-squares ``alpha_w + beta_c`` on the observed (non-NaN) cells of ``values``.

    Eliminating ``beta`` leaves a windows-by-windows system (a few hundred unknowns at most), so
    the fit is exact and takes milliseconds even for a thousand trials.
    """
    n, t = values.shape
    mask = ~np.isnan(values)
    y = np.where(mask, values, 0.0)
    m = mask.astype(float)
    n_c = m.sum(axis=1)
    n_w = m.sum(axis=0)
    beta = np.full(n, np.nan)
    alpha = np.full(t, np.nan)
    rows = n_c > 0
    cols = n_w > 0
    if not rows.any():
        return AdditiveFit(alpha, beta)
    y, m, n_c_r = y[rows][:, cols], m[rows][:, cols], n_c[rows]
    s_c = y.sum(axis=1)
    s_w = y.sum(axis=0)
    scaled = m / n_c_r[:, None]
    lhs = np.diag(m.sum(axis=0)) - m.T @ scaled
    rhs = s_w - scaled.T @ s_c
    # One degree of freedom is free (alpha + k, beta - k); fix it by anchoring the alphas' mean
    # to the mean of their cohort means, which keeps alpha on the metric's own scale.
    k = lhs.shape[0]
    anchor = s_w.sum() / m.sum()
    lhs_c = np.vstack([lhs, np.ones((1, k)) / k])
    rhs_c = np.concatenate([rhs, [anchor]])
    a = np.linalg.lstsq(lhs_c, rhs_c, rcond=None)[0]
    alpha[cols] = a
    beta[rows] = (s_c - m @ a) / n_c_r
    return AdditiveFit(alpha, beta)


def clip_outliers(values: np.ndarray, k: float = 10.0) -> np.ndarray:
    """A copy with values beyond ``median +- k * MAD`` (of all observed cells) clipped.

    A diverging run can report finite but absurd losses (1e36); least squares would let it drag
    every window effect, and with it every other trial's gap. Clipped, it still ranks last but
    no longer moves anyone else. NaN (unobserved) stays NaN.
    """
    finite = values[np.isfinite(values)]
    if finite.size < 4:
        return values.copy()
    finite = finite[:: max(1, finite.size // 20_000)]  # a robust scale needs no more cells
    median = float(np.median(finite))
    mad = float(np.median(np.abs(finite - median)))
    scale = max(1.4826 * mad, 1e-3 * abs(median), 1e-12)
    clipped: np.ndarray = np.clip(values, median - k * scale, median + k * scale)
    return clipped
