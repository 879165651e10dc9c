"""Synthetic drifting streams with a known truth, from a model no predictor shares.

A configuration's metric on window ``w`` of a run over ``[start, stop)`` at sampling rate ``s``:

    m_c(w) = alpha_w + g_c * (alpha_w - mean(alpha))       shared drift, felt more by some configs
           + a_c + b_c * exp(-n / tau_c)                    learning: saturates at its own pace
           + AR(1) noise (correlated across windows, larger at low rates)

with ``n = (w - start + 1) * s`` the data seen. The engine's relative metric assumes
``alpha_w + beta_c`` (no ``g_c``), and the trajectory predictor ``a_c + b_c / sqrt(n)`` (one shared
curve shape, independent noise): neither is this world's model, so a predictor can't pass a test
here by fitting its own assumptions back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypersearch.replay import Curve
from hypersearch.spec import parse
from hypersearch.spec.model import DataRange, ParamValue, SearchSpec

NOISE_CORRELATION = 0.6  # AR(1) coefficient of the per-run noise from window to window


@dataclass
class World:
    """A population of configurations on one drifting stream."""

    alpha: np.ndarray  # shared window effect (drift)
    a: np.ndarray  # each config's asymptotic gap
    b: np.ndarray  # how much worse each config starts (the gap its learning closes)
    tau: np.ndarray  # each config's learning time scale, in windows of full data
    g: np.ndarray  # each config's extra sensitivity to the drift
    noise: float
    seed: int
    examples_per_window: float = 1000.0

    @property
    def windows(self) -> int:
        return int(self.alpha.size)

    def mean(self, c: int, w: np.ndarray, seen: np.ndarray) -> np.ndarray:
        """Noise-free metric of config ``c`` on windows ``w`` after ``seen`` windows of data."""
        drift = self.alpha[w] + self.g[c] * (self.alpha[w] - self.alpha.mean())
        out: np.ndarray = drift + self.a[c] + self.b[c] * np.exp(-seen / self.tau[c])
        return out

    def curve(self, c: int, data: DataRange) -> tuple[np.ndarray, np.ndarray]:
        w = np.arange(data.start, data.stop)
        seen = (w - data.start + 1) * data.rate
        rng = np.random.default_rng([self.seed, c, int(data.rate * 1e6), data.start])
        shocks = rng.normal(0.0, self.noise / np.sqrt(data.rate), w.size)
        noise = np.empty(w.size)
        level = 0.0
        for i, e in enumerate(shocks):  # stationary AR(1) with the shocks' variance
            level = NOISE_CORRELATION * level + np.sqrt(1 - NOISE_CORRELATION**2) * e
            noise[i] = level
        m = self.mean(c, w, seen) + noise
        return m, np.full(w.size, self.examples_per_window * data.rate)

    def truth(self, target: range) -> np.ndarray:
        """True target of every config: full data, whole stream, noise-free."""
        w = np.array(list(target))
        return np.array([float(np.mean(self.mean(c, w, w + 1.0))) for c in range(self.a.size)])

    def curves(self, params: dict[str, ParamValue], data: DataRange) -> Curve:
        return Curve(*self.curve(int(params["config"]), data))


def make_world(n: int = 27, windows: int = 60, seed: int = 0, noise: float = 0.002) -> World:
    rng = np.random.default_rng(seed)
    t = np.arange(windows)
    alpha = 0.45 + 0.03 * np.sin(t / 5.0) + 0.0005 * t  # drift shared by all configurations
    a = rng.normal(0.0, 0.01, n)
    b = rng.uniform(0.0, 0.04, n)  # slow learners look bad early
    tau = np.exp(rng.uniform(np.log(0.5), np.log(12.0), n))
    g = rng.uniform(-0.3, 0.3, n)
    return World(alpha, a, b, tau, g, noise, seed)


def search_spec(n: int, windows: int, **overrides: Any) -> SearchSpec:
    """A grid over configs 0..n-1 (trial i is config i) with engine settings from ``overrides``."""
    stage1 = overrides.pop("stage1", {})
    doc = {
        "apiVersion": "hypersearch.dev/v1alpha1",
        "kind": "HyperSearch",
        "metadata": {"name": "syn"},
        "spec": {
            "stream": {"windows": windows, "windowName": "day"},
            "parameters": [
                {"name": "config", "type": "categorical", "values": [str(i) for i in range(n)]}
            ],
            "sampler": {"name": "grid"},
            "trials": n,
            "parallelism": overrides.pop("parallelism", n),
            "stage1": stage1,
            "trialTemplate": {"spec": {"containers": [{"name": "t", "command": ["true"]}]}},
            **overrides,
        },
    }
    return parse(doc)
