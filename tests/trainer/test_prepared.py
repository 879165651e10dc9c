"""Prepared data: the same examples as the raw files at every rate, on disk and on a real
S3-compatible server; stale, corrupt, interrupted and concurrent preparations."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypersearch_trainer.datasets import open_dataset
from hypersearch_trainer.prepared import MANIFEST, open_prepared, prepare
from hypersearch_trainer.sampling import RowSelection, Sampler

from tests.trainer.helpers import (
    free_port,
    make_criteo,
    make_stream,
    read_json,
    run_trainer,
    start_trainer,
    write_yaml,
)

COMPUTE = ("cpu_seconds", "gpu_seconds", "eval_cpu_seconds")


@pytest.fixture
def stream(tmp_path: Path) -> Path:
    make_stream(tmp_path / "s.parquet", days=5, rows_per_day=3000)
    return write_yaml(tmp_path / "s.yaml", "s.parquet")


def rows_of(source: Any, sel: RowSelection | None) -> list[dict[str, np.ndarray]]:
    out = []
    for window in source.windows(0, source.num_windows, sel):
        batches = list(window.batches())
        cols = {
            "ids": np.concatenate([b.example_ids for b in batches]) if batches else np.zeros(0),
            "cats": np.concatenate([b.cat_keys for b in batches]) if batches else np.zeros(0),
            "nums": np.concatenate([b.numeric for b in batches]) if batches else np.zeros(0),
            "labels": np.concatenate([b.labels for b in batches]) if batches else np.zeros(0),
        }
        if batches and batches[0].strata is not None:
            cols["strata"] = np.concatenate([b.strata for b in batches])  # type: ignore[misc]
        out.append(cols)
    return out


def assert_same_rows(a: list[dict[str, np.ndarray]], b: list[dict[str, np.ndarray]]) -> None:
    assert len(a) == len(b)
    for wa, wb in zip(a, b, strict=True):
        assert wa.keys() == wb.keys()
        for k in wa:
            np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)


@pytest.mark.parametrize(
    ("rate", "sampling", "eval_rate"),
    [(1.0, "uniform", 1.0), (0.3, "uniform", 0.05), (0.02, "uniform", 0.02),
     (0.05, "negatives", 0.01), (0.01, "negatives", 1.0)],
)  # fmt: skip
def test_shards_give_the_raw_files_rows_at_every_rate(
    tmp_path: Path, stream: Path, rate: float, sampling: str, eval_rate: float
) -> None:
    raw = open_dataset(str(stream))
    prepared = open_prepared(open_dataset(str(stream), index=False), str(tmp_path / "p"), 7)
    sel = RowSelection(Sampler(rate, sampling, 7), lambda _w: eval_rate)
    expected = rows_of(raw, sel)
    assert_same_rows(rows_of(prepared, sel), expected)
    assert sum(len(w["ids"]) for w in expected) < 15_000 or rate == 1.0 or eval_rate == 1.0


def test_criteo_shards_give_the_raw_rows(tmp_path: Path) -> None:
    d = make_criteo(tmp_path / "c", days=3, rows=400)
    sel = RowSelection(Sampler(0.2, "negatives", 3), lambda _w: 0.1)
    prepared = open_prepared(open_dataset(f"criteo:{d}"), str(tmp_path / "p"), 3)
    assert_same_rows(rows_of(prepared, sel), rows_of(open_dataset(f"criteo:{d}"), sel))


def without_compute(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in (*COMPUTE, "wall_time_s", "examples_per_s")}
    out["windows"] = [{k: v for k, v in w.items() if k not in COMPUTE} for w in doc["windows"]]
    return out


def test_a_run_on_prepared_data_equals_a_run_on_the_raw_file(tmp_path: Path, stream: Path) -> None:
    env = {"HS_DATASET": str(stream), "HS_DATA_RATE": "0.2", "HS_EVAL_RATE": "0.3",
           "HS_PARAM_model": "dlrm", "HS_PARAM_batch_size": "64", "HS_SEED": "5"}  # fmt: skip
    raw, prep = tmp_path / "raw.json", tmp_path / "prep.json"
    r = run_trainer(HS_RESULT_FILE=str(raw), **env)
    assert r.returncode == 0, r.stderr
    root = tmp_path / "prepared"
    r = run_trainer(HS_RESULT_FILE=str(prep), HS_PREPARED_DATA=str(root), **env)
    assert r.returncode == 0, r.stderr
    assert without_compute(read_json(prep)) == without_compute(read_json(raw))
    (shards,) = [p for p in root.iterdir() if not p.name.startswith(".")]
    assert (shards / MANIFEST).is_file() and len(list(shards.glob("*.arrow"))) == 5


def test_another_seed_or_changed_data_is_never_mixed_in(tmp_path: Path, stream: Path) -> None:
    root = str(tmp_path / "p")
    first = prepare(open_dataset(str(stream)), 1, root)
    assert prepare(open_dataset(str(stream)), 1, root) == first  # reused
    assert prepare(open_dataset(str(stream)), 2, root) != first  # the hash order depends on it
    make_stream(tmp_path / "s.parquet", days=5, rows_per_day=3000, seed=9)  # new content
    assert prepare(open_dataset(str(stream)), 1, root) != first
    # pointed at one prepared directory of another seed: an error naming what differs
    r = run_trainer(HS_DATASET=str(stream), HS_SEED="3", HS_PREPARED_DATA=first)
    assert r.returncode == 2
    assert "different" in r.stderr and "seed" in r.stderr and first in r.stderr


@pytest.mark.parametrize("damage", ["truncate", "garble"])
def test_a_corrupt_shard_exits_3_naming_file_and_window(
    tmp_path: Path, stream: Path, damage: str
) -> None:
    directory = Path(prepare(open_dataset(str(stream)), 0, str(tmp_path / "p")))
    shard = directory / "w000003.arrow"
    data = shard.read_bytes()
    if damage == "truncate":
        shard.write_bytes(data[: len(data) // 2])
    else:
        shard.write_bytes(data[:64] + bytes(len(data) - 128) + data[-64:])
    r = run_trainer(HS_DATASET=str(stream), HS_PREPARED_DATA=str(directory))
    assert r.returncode == 3, r.stderr
    assert str(shard) in r.stderr and "window 3" in r.stderr


def test_an_interrupted_preparation_leaves_nothing_that_looks_complete(tmp_path: Path) -> None:
    table = make_stream(tmp_path / "s.parquet", days=5, rows_per_day=300)
    labels = table.column("clicks").to_pylist()
    labels[4 * 300 + 5] = None  # window 4 is broken: preparation fails after 4 good windows
    pq.write_table(table.set_column(4, "clicks", [labels]), tmp_path / "s.parquet")
    ds = write_yaml(tmp_path / "s.yaml", "s.parquet")
    root = tmp_path / "p"
    r = run_trainer("prepare", HS_DATASET=str(ds), HS_PREPARED_DATA=str(root))
    assert r.returncode == 3 and "missing" in r.stderr
    assert [p.name for p in root.iterdir() if not p.name.endswith(".lock")] == []
    assert not list(root.rglob(MANIFEST))


def test_two_preparers_at_once_share_one_complete_copy(tmp_path: Path, stream: Path) -> None:
    root = tmp_path / "p"
    env = {"HS_DATASET": str(stream), "HS_PREPARED_DATA": str(root), "HS_DATA_RATE": "0.1"}
    procs = [start_trainer(HS_RESULT_FILE=str(tmp_path / f"r{i}.json"), **env) for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    dirs = [p for p in root.iterdir() if not p.name.startswith(".")]
    assert len(dirs) == 1 and (dirs[0] / MANIFEST).is_file()
    a, b = (without_compute(read_json(tmp_path / f"r{i}.json")) for i in range(2))
    assert a == b


# --------------------------------------------------------------------------- object storage


@pytest.fixture
def s3_url(tmp_path: Path) -> Iterator[str]:
    """A real S3-compatible server (moto, installed by scripts/install-test-deps.sh)."""
    cache = Path(os.environ.get("HYPERSEARCH_CACHE", str(Path.home() / ".cache/hypersearch")))
    servers = sorted(cache.glob("moto-*/bin/moto_server"))
    assert servers, f"moto_server not found under {cache}: run scripts/install-test-deps.sh"
    port = free_port()
    log = (tmp_path / "moto.log").open("wb")
    proc = subprocess.Popen([str(servers[-1]), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 60  # generous: a loaded machine starts it slowly
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "moto.log").read_text()
                assert time.monotonic() < deadline, "moto server did not listen within 60 s"
                time.sleep(0.2)
        import pyarrow.fs as pafs

        fs = pafs.S3FileSystem(endpoint_override=f"127.0.0.1:{port}", scheme="http",
                               region="us-east-1", allow_bucket_creation=True,
                               access_key="test", secret_key="test")  # fmt: skip
        fs.create_dir("shards")
        yield f"s3://shards/prepared?endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_prepared_data_on_object_storage(tmp_path: Path, stream: Path, s3_url: str) -> None:
    creds = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    r = run_trainer("prepare", HS_DATASET=str(stream), HS_SEED="4", HS_PREPARED_DATA=s3_url,
                    **creds)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("shards/prepared/")
    env = {"HS_DATASET": str(stream), "HS_SEED": "4", "HS_DATA_RATE": "0.05",
           "HS_EVAL_RATE": "0.05", "HS_PARAM_model": "fm"}  # fmt: skip
    remote, local = tmp_path / "remote.json", tmp_path / "local.json"
    r = run_trainer(HS_RESULT_FILE=str(remote), HS_PREPARED_DATA=s3_url, **creds, **env)
    assert r.returncode == 0, r.stderr
    r = run_trainer(HS_RESULT_FILE=str(local), **env)
    assert r.returncode == 0, r.stderr
    assert without_compute(read_json(remote)) == without_compute(read_json(local))
