"""Synthetic drifting streams with a known truth: m_c(w) = alpha_w + a_c + b_c * h(data seen) + noise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypersearch.replay import Curve
from hypersearch.spec import parse
from hypersearch.spec.model import DataRange, ParamValue, SearchSpec


@dataclass
class World:
    """A population of configurations on one drifting stream."""

    alpha: np.ndarray  # shared window effect (drift)
    a: np.ndarray  # each config's asymptotic gap
    b: np.ndarray  # each config's learning-speed term (gap shrinks as data grows)
    noise: float
    seed: int
    examples_per_window: float = 1000.0

    @property
    def windows(self) -> int:
        return int(self.alpha.size)

    def curve(self, c: int, data: DataRange) -> tuple[np.ndarray, np.ndarray]:
        w = np.arange(data.start, data.stop)
        seen = (w - data.start + 1) * data.rate
        rng = np.random.default_rng([self.seed, c, int(data.rate * 1e6), data.start])
        noise = rng.normal(0.0, self.noise / np.sqrt(data.rate), w.size)
        m = self.alpha[w] + self.a[c] + self.b[c] / np.sqrt(seen) + noise
        return m, np.full(w.size, self.examples_per_window * data.rate)

    def truth(self, target: range) -> np.ndarray:
        """True target of every config: full data, whole stream, noise-free."""
        out = []
        for c in range(self.a.size):
            w = np.array(list(target))
            out.append(float(np.mean(self.alpha[w] + self.a[c] + self.b[c] / np.sqrt(w + 1.0))))
        return np.array(out)

    def curves(self, params: dict[str, ParamValue], data: DataRange) -> Curve:
        return Curve(*self.curve(int(params["config"]), data))


def make_world(n: int = 27, windows: int = 60, seed: int = 0, noise: float = 0.002) -> World:
    rng = np.random.default_rng(seed)
    t = np.arange(windows)
    alpha = 0.45 + 0.03 * np.sin(t / 5.0) + 0.0005 * t  # drift shared by all configurations
    a = rng.normal(0.0, 0.01, n)
    b = rng.uniform(0.0, 0.04, n)  # slow learners look bad early
    return World(alpha, a, b, noise, seed)


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
