"""Ground truth for the search-quality benchmark: real trainer runs, cached on disk.

Every configuration is trained by the reference trainer (a real subprocess) on the full stream
with full data, and again at each sub-sampling rate the methods use: sub-sampling changes the
curves, so it can't be simulated by truncating full runs. Trajectories are cached per
(dataset, space, configuration, rate) so the benchmark command reuses them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hypersearch.engine.samplers.sobol import SobolSampler
from hypersearch.spec.model import Parameter, ParamValue, SamplerSpec

# The space of the benchmark: choices that matter for a CTR model on a drifting stream.
SPACE: tuple[Parameter, ...] = (
    Parameter("model", "categorical", values=("fm", "lr", "dlrm")),
    Parameter("lr", "double", 0.003, 0.3, "log"),
    Parameter("optimizer", "categorical", values=("adagrad", "adam", "sgd")),
    Parameter("embedding_dim", "int", 4, 32, "log"),
    Parameter("hash_buckets", "int", 1 << 14, 1 << 20, "log"),
    Parameter("weight_decay", "double", 1e-8, 1e-3, "log"),
    Parameter("batch_size", "categorical", values=("512", "1024", "2048", "4096")),
)
FULL_RATE = 1.0


def cache_root() -> Path:
    base = os.environ.get("HYPERSEARCH_CACHE", str(Path.home() / ".cache" / "hypersearch"))
    return Path(base) / "bench"


@functools.cache
def trainer_fingerprint() -> str:
    """Digest of the reference trainer's source and the torch release it runs on."""
    found = importlib.util.find_spec("hypersearch_trainer")
    if found is None or found.origin is None:
        raise RuntimeError("hypersearch_trainer is not installed: run scripts/setup.sh")
    package = Path(found.origin).parent
    h = hashlib.sha256(importlib.metadata.version("torch").encode())
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def configurations(n: int, seed: int = 0) -> list[dict[str, ParamValue]]:
    """The benchmark's ``n`` configurations: a scrambled Sobol design over :data:`SPACE`."""
    sampler = SobolSampler(SPACE, seed, SamplerSpec(name="sobol"))
    return [sampler.sample(i, []) for i in range(n)]


@dataclass(frozen=True)
class Trajectory:
    """One run's per-window results (progressive validation) and training examples."""

    logloss: np.ndarray
    auc: np.ndarray
    eval_examples: np.ndarray
    trained: np.ndarray
    strata: dict[str, tuple[np.ndarray, np.ndarray]]  # stratum -> (logloss, eval examples)

    @property
    def failed(self) -> bool:
        return not np.isfinite(self.logloss).any()

    @classmethod
    def from_result(cls, doc: dict[str, Any], windows_total: int) -> Trajectory:
        windows = doc["windows"] or [
            {"window": w, "logloss": None, "auc": None, "examples": 0, "trained": 0}
            for w in range(windows_total)
        ]
        nan = float("nan")
        strata_names = sorted({s for w in windows for s in w.get("strata", {})})
        return cls(
            logloss=np.array([w["logloss"] if w["logloss"] is not None else nan for w in windows]),
            auc=np.array([w["auc"] if w["auc"] is not None else nan for w in windows]),
            eval_examples=np.array([w["examples"] for w in windows], dtype=float),
            trained=np.array([w.get("trained", 0) for w in windows], dtype=float),
            strata={
                s: (
                    np.array([(w["strata"].get(s) or {}).get("logloss") or nan for w in windows]),
                    np.array(
                        [(w["strata"].get(s) or {}).get("examples", 0) for w in windows],
                        dtype=float,
                    ),
                )
                for s in strata_names
            },
        )


def _compact(doc: dict[str, Any]) -> dict[str, Any]:
    """Keep what the benchmark reads; the trainer's result has more."""
    keep = ("window", "examples", "logloss", "auc", "trained")
    return {
        "status": doc["status"],
        "examples_trained": doc["examples_trained"],
        "wall_time_s": doc["wall_time_s"],
        "windows": [
            {
                **{k: w.get(k) for k in keep},
                "strata": {
                    s: {"examples": v["examples"], "logloss": v["logloss"]}
                    for s, v in w.get("strata", {}).items()
                },
            }
            for w in doc["windows"]
        ],
    }


@dataclass
class GroundTruth:
    """Cached runs of ``configs`` on ``dataset`` at ``rates`` (always including full data)."""

    dataset: str
    configs: list[dict[str, ParamValue]]
    rates: tuple[float, ...]
    stop: int | None = None
    eval_windows: int = 7

    @property
    def key(self) -> str:
        """Dataset, configurations and the trainer that trained them: a cache built by another
        trainer version (or torch release) is not reused, its numbers would differ."""
        blob = json.dumps(
            {
                "dataset": self.dataset,
                "configs": self.configs,
                "stop": self.stop,
                "trainer": trainer_fingerprint(),
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    @property
    def directory(self) -> Path:
        name = Path(self.dataset).stem if self.dataset.endswith(".yaml") else self.dataset
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
        return cache_root() / f"{safe}-{self.key}"

    def path(self, index: int, rate: float) -> Path:
        return self.directory / f"c{index:03d}-r{rate:g}.json"

    def missing(self) -> list[tuple[int, float]]:
        return [
            (i, r)
            for r in self.rates
            for i in range(len(self.configs))
            if not self.path(i, r).exists()
        ]

    def _train(self, index: int, rate: float) -> None:
        config = self.configs[index]
        env = {
            **os.environ,
            "HS_DATASET": self.dataset,
            "HS_DATA_RATE": repr(rate),
            "HS_DATA_SAMPLING": "uniform",
            "HS_SEED": "0",
            "HS_METRICS_PORT": "0",
            "HS_THREADS": "1",
            "HS_EVAL_WINDOWS": str(self.eval_windows),
            **{f"HS_PARAM_{k}": str(v) for k, v in config.items()},
        }
        if self.stop is not None:
            env["HS_DATA_STOP"] = str(self.stop)
        with tempfile.TemporaryDirectory() as tmp:
            result = Path(tmp) / "result.json"
            env["HS_RESULT_FILE"] = str(result)
            proc = subprocess.run(
                [sys.executable, "-m", "hypersearch_trainer", "-q"],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.exists():
                doc = _compact(json.loads(result.read_text()))
            else:
                # A configuration may diverge or crash; that is part of the truth (it is as bad as
                # the worst), so record it rather than abort the whole ground truth.
                error = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
                doc = {"status": "failed", "error": error[0], "examples_trained": 0, "windows": []}
        target = self.path(index, rate)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp_target = target.with_suffix(".tmp")
        tmp_target.write_text(json.dumps(doc))
        os.replace(tmp_target, target)

    def build(self, workers: int = 2, progress: Callable[[int, int], None] | None = None) -> None:
        """Train every missing (configuration, rate) run, ``workers`` at a time."""
        todo = self.missing()
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "configs.json").write_text(
            json.dumps(
                {"dataset": self.dataset, "stop": self.stop, "configs": self.configs}, indent=1
            )
        )
        done = 0
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(lambda job: self._train(*job), todo):
                done += 1
                if progress:
                    progress(done, len(todo))

    def load(self, index: int, rate: float, windows_total: int) -> Trajectory:
        return Trajectory.from_result(json.loads(self.path(index, rate).read_text()), windows_total)
