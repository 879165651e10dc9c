"""Tiny generated datasets and helpers to run real trainer processes (fixtures in conftest)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]


def make_stream(
    path: Path, days: int = 6, rows_per_day: int = 400, seed: int = 0, drift: bool = True
) -> pa.Table:
    """A drifting click stream: the click rate of each 'site' moves over days."""
    rng = np.random.default_rng(seed)
    n = days * rows_per_day
    day = np.repeat(np.arange(days), rows_per_day)
    secs = np.sort(rng.integers(0, 86400, size=n).reshape(days, rows_per_day), axis=1).ravel()
    ts = np.datetime64("2024-03-01") + (day * 86400 + secs).astype("timedelta64[s]")
    site = rng.integers(0, 20, size=n)
    device = rng.choice(np.array(["ios", "android", "web"]), size=n)
    price = rng.lognormal(3, 1, size=n)
    base = np.linspace(-2.5, 0.5, 20)[site] + (day * 0.15 if drift else 0)
    logit = base + np.where(device == "ios", 0.7, -0.3) - 0.2 * np.log1p(price)
    clicked = rng.random(n) < 1 / (1 + np.exp(-logit))
    table = pa.table(
        {
            "ts": pa.array(ts.astype("datetime64[us]")),
            "site": pa.array([f"s{i}" for i in site]),
            "device": pa.array(device),
            "price": pa.array(price),
            "clicks": pa.array(clicked.astype(np.int64)),
        }
    )
    if path.suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path, row_group_size=500)
    return table


def write_yaml(path: Path, data: str, **overrides: Any) -> Path:
    """A dataset YAML for ``make_stream`` files."""
    spec: dict[str, Any] = {
        "name": "tiny",
        "path": data,
        "timestamp": "ts",
        "window": "1d",
        "label": "clicks > 0",
        "categorical": ["site", "device", "hour(ts)"],
        "numeric": ["price"],
        "stratum": "device",
    }
    spec.update(overrides)
    spec = {k: v for k, v in spec.items() if v is not None}
    import yaml

    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """YAML of a 6-day parquet stream (400 rows a day)."""
    make_stream(tmp_path / "tiny.parquet")
    return write_yaml(tmp_path / "tiny.yaml", "tiny.parquet")


def make_criteo(directory: Path, days: int = 3, rows: int = 300, seed: int = 0) -> Path:
    """Criteo-format day files: label, 13 ints, 26 hex categoricals, tab separated."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for d in range(days):
        lines = []
        for _ in range(rows):
            ints = ["" if rng.random() < 0.1 else str(int(rng.integers(0, 50))) for _ in range(13)]
            cats = [
                "" if rng.random() < 0.05 else f"{int(rng.integers(0, 30)):08x}" for _ in range(26)
            ]
            label = int(rng.random() < 0.25 + 0.02 * (int(cats[0] or "0", 16) % 5))
            lines.append("\t".join([str(label), *ints, *cats]))
        (directory / f"day_{d}").write_text("\n".join(lines) + "\n")
    return directory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def trainer_env(**env: str) -> dict[str, str]:
    """Environment for a trainer subprocess: no inherited HS_* variables, one thread."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("HS_")}
    base.update({"HS_THREADS": "1", "HS_METRICS_PORT": "0"})
    base.update(env)
    return base


def run_trainer(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m hypersearch_trainer`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "hypersearch_trainer", *args],
        env=trainer_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def start_trainer(*args: str, **env: str) -> subprocess.Popen[str]:
    """Start a trainer process with stderr piped (its log)."""
    return subprocess.Popen(
        [sys.executable, "-m", "hypersearch_trainer", *args],
        env=trainer_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def read_json(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return str(r.read().decode())


def run_until_done(result: Path | None = None, timeout: float = 120, **env: str) -> str:
    """Run a trainer serving metrics on a free loopback port until it reports done (and has
    written ``result``, if given); its last /metrics body. A non-zero exit fails the test."""
    port = free_port()
    if result is not None:
        env["HS_RESULT_FILE"] = str(result)
    p = start_trainer(
        HS_METRICS_PORT=str(port), HS_METRICS_HOST="127.0.0.1", HS_METRICS_LINGER="60", **env
    )
    text = ""

    def done() -> bool:
        nonlocal text
        try:
            text = scrape(port)
        except OSError:
            return False
        return "hypersearch_trainer_done 1.0" in text and (result is None or result.exists())

    try:
        wait_for(done, timeout=timeout)
    finally:
        p.terminate()
        assert p.wait(timeout=10) == 0
    return text


def wait_for(cond: Callable[[], bool], timeout: float = 60, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(every)
    raise AssertionError("condition not met in time")
