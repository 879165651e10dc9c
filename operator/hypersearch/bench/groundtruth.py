"""Ground truth for the search-quality benchmark: real trainer runs, cached on disk.

Every configuration is trained by the reference trainer (a real subprocess) on the full stream
with full data, and again at each sub-sampling rate the methods use: sub-sampling changes the
curves, so it can't be simulated by truncating full runs. Trajectories are cached per
(dataset, space, configuration, rate) so the benchmark command reuses them.

Each run records what it cost as the trainer measured it: CPU-seconds of the process
(interpreter and torch start-up included: every trial pays them) cumulated at the end of each
window, the CPU spent scoring each window, and the logloss of the nested evaluation samples
(rates 1%, 3%, 10%, 30%) of each window, from which a run at a lower evaluation rate is replayed.
Runs read prepared per-window shards (``HS_PREPARED_DATA`` under the bench cache, prepared once
before the first run), as a real search does, with one torch thread per process.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
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
# Evaluation rates the trainer records a sample loss for (``eval_sample`` of each window).
EVAL_LADDER = (0.01, 0.03, 0.1, 0.3)
# Bump when what a cached run holds changes: older caches are then not read.
CACHE_FORMAT = 2


def cache_root() -> Path:
    base = os.environ.get("HYPERSEARCH_CACHE", str(Path.home() / ".cache" / "hypersearch"))
    return Path(base) / "bench"


def prepared_root() -> Path:
    """Where the ground-truth runs' prepared data lives (one directory per data fingerprint)."""
    return cache_root() / "prepared"


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
    """One run's per-window results (progressive validation), training examples and compute.

    ``cpu`` is the run's CPU-seconds cumulated at the end of each window as the trainer counted
    them (start-up included), ``cpu_total`` what the operating system charged the whole process
    (``wait4``), ``exit_cpu`` the part of it after the trainer's last count (writing the result,
    interpreter shutdown: a stopped run pays it too), ``eval_cpu`` the CPU-seconds spent scoring
    each window, ``eval_sample`` the logloss sums and counts of each window's nested evaluation
    samples by rate. Unknown figures are NaN.
    ``eval_rate`` says what the metrics and compute describe: a trajectory replayed at a lower
    evaluation rate (:meth:`at_eval`) has the sample's logloss and a modelled compute.
    """

    logloss: np.ndarray
    auc: np.ndarray
    eval_examples: np.ndarray
    trained: np.ndarray
    strata: dict[str, tuple[np.ndarray, np.ndarray]]  # stratum -> (logloss, eval examples)
    cpu: np.ndarray | None = None
    cpu_total: float = float("nan")
    exit_cpu: float = 0.0
    eval_cpu: np.ndarray | None = None
    eval_sample: dict[float, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    eval_rate: float = 1.0

    @property
    def failed(self) -> bool:
        return not np.isfinite(self.logloss).any()

    @property
    def empty(self) -> np.ndarray:
        """Windows without an example to score (a day without data, or none in the evaluation
        sample): missing data, not a value. A crashed run's unknown counts are NaN, not empty."""
        out: np.ndarray = self.eval_examples == 0
        return out

    def diverged(self, start: int = 0, stop: int | None = None) -> bool:
        """Whether a window of ``[start, stop)`` was scored (or its count is unknown: a crash)
        without a finite metric: the run diverged, which the engine rightly fails."""
        sl = slice(start, stop)
        return bool((~self.empty[sl] & ~np.isfinite(self.logloss[sl])).any())

    def target(self, windows: int) -> float:
        """Mean metric over the last ``windows`` windows, leaving out the empty ones (missing
        data); NaN if one of the others has no finite metric (diverged) or all are empty."""
        tail = slice(max(0, self.windows - windows), None)
        values = self.logloss[tail][~self.empty[tail]]
        return float(np.mean(values)) if values.size and np.isfinite(values).all() else NAN

    def recent(self, position: int, windows: int) -> float:
        """Mean metric of the last ``windows`` windows before ``position`` that had examples
        (what a user reports at that point: empty windows are skipped, not counted); inf if
        one of them diverged or there is none."""
        values = self.logloss[:position][~self.empty[:position]][-windows:]
        if not values.size or not np.isfinite(values).all():
            return float("inf")
        return float(values.mean())

    @property
    def windows(self) -> int:
        return int(self.logloss.size)

    def cumulative_cpu(self) -> np.ndarray:
        if self.cpu is None:
            return np.full(self.windows, np.nan)
        return self.cpu

    def cpu_until(self, stop: int, start: int = 0) -> float:
        """CPU-seconds a run pays for windows [start, stop): a run of the whole stream pays its
        total, a run stopped after window ``stop - 1`` pays its counter at that window, and a
        warm-started continuation from ``start`` pays only the windows it added. A run whose
        per-window counters are unknown (it crashed) pays what the whole process spent."""
        cum = self.cumulative_cpu()
        if stop >= self.windows and math.isfinite(self.cpu_total):
            end = self.cpu_total
        else:
            end = float(cum[max(0, min(stop, self.windows) - 1)]) if self.windows else math.nan
            end = end + self.exit_cpu if math.isfinite(end) else self.cpu_total
        if start <= 0:
            return end
        return end - self.exit_cpu - float(cum[min(start, self.windows) - 1])

    def until(self, stop: int) -> Trajectory:
        """This run as if it had ended after window ``stop - 1``: a streaming run's windows up to
        there do not depend on later data (each window is scored, then trained on), so a search
        that ended at that horizon is replayed from the longer run. It pays its counter at that
        window plus its exit CPU, as a stopped run does."""
        if stop >= self.windows:
            return self
        sl = slice(0, stop)
        return replace(
            self,
            logloss=self.logloss[sl],
            auc=self.auc[sl],
            eval_examples=self.eval_examples[sl],
            trained=self.trained[sl],
            strata={s: (v[sl], n[sl]) for s, (v, n) in self.strata.items()},
            cpu=None if self.cpu is None else self.cpu[sl],
            cpu_total=self.cpu_until(stop),
            eval_cpu=None if self.eval_cpu is None else self.eval_cpu[sl],
            eval_sample={r: (v[sl], n[sl]) for r, (v, n) in self.eval_sample.items()},
        )

    def at_eval(self, rate: float) -> Trajectory:
        """This run as if each window had been scored on its nested sample at ``rate`` only.

        The logloss of a window is the sample's loss sum over its count (no AUC, no strata: the
        trainer records only the loss of the samples). Compute is a model: each window's measured
        scoring CPU shrinks to ``rate`` of itself; everything else the run spent stays.
        """
        if rate >= 1.0:
            return self
        key = next((r for r in self.eval_sample if math.isclose(r, rate)), None)
        if key is None and self.failed:  # nothing was scored: it stays as bad as it was
            return replace(self, eval_rate=rate)
        if key is None:
            raise ValueError(
                f"no evaluation sample at rate {rate:g} (recorded: {sorted(self.eval_sample)})"
            )
        sums, counts = self.eval_sample[key]
        with np.errstate(invalid="ignore", divide="ignore"):
            logloss = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        eval_cpu = self.eval_cpu if self.eval_cpu is not None else np.zeros(self.windows)
        saved = (1.0 - rate) * np.nan_to_num(eval_cpu)
        return replace(
            self,
            logloss=logloss,
            auc=np.full(self.windows, np.nan),
            eval_examples=counts.astype(float),
            strata={},
            cpu=self.cumulative_cpu() - np.cumsum(saved),
            cpu_total=self.cpu_total - float(saved.sum()),
            eval_cpu=eval_cpu - saved,
            eval_rate=rate,
        )

    @classmethod
    def from_result(cls, doc: dict[str, Any], windows_total: int) -> Trajectory:
        # A run that crashed before its first window: nothing is known (counts NaN), which is
        # not the same as windows without examples (counts 0, missing data).
        windows = doc["windows"] or [
            {"window": w, "logloss": None, "auc": None, "examples": None, "trained": 0}
            for w in range(windows_total)
        ]
        strata_names = sorted({s for w in windows for s in w.get("strata") or {}})
        ladder = sorted({float(r) for w in windows for r in w.get("eval_sample") or {}})
        counted, measured = _num(doc.get("cpu_seconds")), _num(doc.get("rusage_cpu_seconds"))

        def sample(w: dict[str, Any], rate: float) -> tuple[float, float]:
            for key, (total, n) in (w.get("eval_sample") or {}).items():
                if math.isclose(float(key), rate):
                    return _num(total), float(n)
            return NAN, 0.0

        return cls(
            logloss=np.array([_num(w["logloss"]) for w in windows]),
            auc=np.array([_num(w["auc"]) for w in windows]),
            eval_examples=np.array([_num(w["examples"]) for w in windows]),
            trained=np.array([w.get("trained", 0) for w in windows], dtype=float),
            strata={
                s: (
                    np.array([_num((w["strata"].get(s) or {}).get("logloss")) for w in windows]),
                    np.array(
                        [(w["strata"].get(s) or {}).get("examples", 0) for w in windows],
                        dtype=float,
                    ),
                )
                for s in strata_names
            },
            cpu=np.array([_num(w.get("cpu_seconds")) for w in windows]),
            cpu_total=measured if math.isfinite(measured) else counted,
            exit_cpu=max(0.0, measured - counted) if math.isfinite(measured - counted) else 0.0,
            eval_cpu=np.array([_num(w.get("eval_cpu_seconds")) for w in windows]),
            eval_sample={
                r: (
                    np.array([sample(w, r)[0] for w in windows]),
                    np.array([sample(w, r)[1] for w in windows]),
                )
                for r in ladder
            },
        )


NAN = float("nan")


def _num(value: Any) -> float:
    """A JSON number, or NaN for null (the trainer writes a diverged value as null)."""
    return NAN if value is None else float(value)


def _compact(doc: dict[str, Any]) -> dict[str, Any]:
    """Keep what the benchmark reads; the trainer's result has more."""
    keep = (
        "window",
        "examples",
        "logloss",
        "auc",
        "trained",
        "cpu_seconds",
        "eval_cpu_seconds",
        "eval_sample",
    )
    return {
        "status": doc["status"],
        "error": doc.get("error"),
        "examples_trained": doc.get("examples_trained", 0),
        "wall_time_s": doc.get("wall_time_s"),
        "cpu_seconds": doc.get("cpu_seconds"),
        "windows": [
            {
                **{k: w.get(k) for k in keep},
                "strata": {
                    s: {"examples": v["examples"], "logloss": v["logloss"]}
                    for s, v in w.get("strata", {}).items()
                },
            }
            for w in doc.get("windows", [])
        ],
    }


@dataclass
class GroundTruth:
    """Cached runs of ``configs`` on ``dataset`` at ``rates`` (always including full data).

    ``checks`` are extra (configuration, rate, evaluation rate) runs that really score only the
    evaluation sample: they measure how close the replayed evaluation cost is to the real one.
    """

    dataset: str
    configs: list[dict[str, ParamValue]]
    rates: tuple[float, ...]
    stop: int | None = None
    eval_windows: int = 7
    checks: tuple[tuple[int, float, float], ...] = ()

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
                "format": CACHE_FORMAT,
                "prepared": True,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    @property
    def directory(self) -> Path:
        name = Path(self.dataset).stem if self.dataset.endswith(".yaml") else self.dataset
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
        return cache_root() / f"{safe}-{self.key}"

    def path(self, index: int, rate: float, eval_rate: float = 1.0) -> Path:
        tail = "" if eval_rate >= 1.0 else f"-e{eval_rate:g}"
        return self.directory / f"c{index:03d}-r{rate:g}{tail}.json"

    def missing(self) -> list[tuple[int, float, float]]:
        jobs = [(i, r, 1.0) for r in self.rates for i in range(len(self.configs))]
        return [job for job in [*jobs, *self.checks] if not self.path(*job).exists()]

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HS_DATASET": self.dataset,
            "HS_SEED": "0",
            "HS_PREPARED_DATA": str(prepared_root()),
        }

    def prepare(self) -> None:
        """Prepare the dataset's shards once, before any timed run, so no run pays for it."""
        proc = subprocess.run(
            [sys.executable, "-m", "hypersearch_trainer", "prepare"],
            env=self._env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"preparing {self.dataset} failed: {proc.stderr.strip()[-2000:]}")

    def startup_cpu(self, repeats: int = 3) -> float:
        """CPU-seconds of a process that only starts the trainer (interpreter, numpy, pyarrow,
        torch and the trainer imported, then exit): what a trial forked from a warm process
        (``HS_FORKSERVER``) does not pay. Median of ``repeats`` processes, cached."""
        cached = self.directory / "startup.json"
        if cached.exists():
            return float(json.loads(cached.read_text())["cpu_seconds"])
        code = (
            "import numpy, pyarrow.parquet, torch, hypersearch_trainer.loop, "
            "hypersearch_trainer.main, hypersearch_trainer.prepared"
        )
        measured = []
        for _ in range(repeats):
            proc = subprocess.Popen([sys.executable, "-c", code], env=self._env())
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                raise RuntimeError(f"importing the trainer failed (exit {proc.returncode})")
            measured.append(usage.ru_utime + usage.ru_stime)
        value = float(np.median(measured))
        self.directory.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps({"cpu_seconds": value, "measured": measured}))
        return value

    def _train(self, index: int, rate: float, eval_rate: float = 1.0) -> None:
        config = self.configs[index]
        env = {
            **self._env(),
            "HS_DATA_RATE": repr(rate),
            "HS_DATA_SAMPLING": "uniform",
            "HS_EVAL_RATE": repr(eval_rate),
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
            load = os.getloadavg()[0]
            with open(Path(tmp) / "stderr", "w+") as err:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "hypersearch_trainer", "-q"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                )
                # wait4: the OS's account of the process's CPU, also for a run that crashed.
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                err.seek(0)
                stderr = err.read()
            doc = json.loads(result.read_text()) if result.exists() else {"status": "failed"}
            doc = _compact(doc)
            if doc["status"] == "failed" and not doc.get("error"):
                # A configuration may diverge or crash; that is part of the truth (it is as bad
                # as the worst), so record it rather than abort the whole ground truth.
                error = stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
                doc["error"] = error[0]
            doc["rusage_cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 3)
            doc["load"] = [round(load, 2), round(os.getloadavg()[0], 2)]
        target = self.path(index, rate, eval_rate)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp_target = target.with_suffix(".tmp")
        tmp_target.write_text(json.dumps(doc))
        os.replace(tmp_target, target)

    def build(self, workers: int = 2, progress: Callable[[int, int], None] | None = None) -> None:
        """Train every missing run, ``workers`` at a time."""
        todo = self.missing()
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "configs.json").write_text(
            json.dumps(
                {"dataset": self.dataset, "stop": self.stop, "configs": self.configs}, indent=1
            )
        )
        if not todo:
            return
        self.prepare()
        done = 0
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(lambda job: self._train(*job), todo):
                done += 1
                if progress:
                    progress(done, len(todo))

    def document(self, index: int, rate: float, eval_rate: float = 1.0) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.path(index, rate, eval_rate).read_text())
        return doc

    def load(
        self, index: int, rate: float, windows_total: int, eval_rate: float = 1.0
    ) -> Trajectory:
        return Trajectory.from_result(self.document(index, rate, eval_rate), windows_total)
