"""Data sources: windows, stable hashing and sampling, and clear errors for bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypersearch_trainer.datasets import open_dataset
from hypersearch_trainer.errors import ConfigError, DataError
from hypersearch_trainer.features import ROW_BITS
from hypersearch_trainer.sampling import Sampler
from hypersearch_trainer.sources import Source

from tests.trainer.helpers import make_criteo, make_stream, read_json, run_trainer, write_yaml


def rows(src: Source, start: int = 0, stop: int | None = None) -> list[int]:
    """Row count of every window in the range (reads the data)."""
    end = src.num_windows if stop is None else stop
    return [sum(len(b) for b in w.batches()) for w in src.windows(start, end)]


def test_yaml_parquet_windows_are_days(tiny: Path) -> None:
    src = open_dataset(str(tiny))
    assert src.num_windows == 6
    assert rows(src) == [400] * 6
    labels = [w.label for w in src.windows(0, 6)]
    assert labels[0] == "2024-03-01" and labels[-1] == "2024-03-06"
    assert src.has_strata


def test_window_range_and_stable_example_ids(tiny: Path) -> None:
    src = open_dataset(str(tiny))
    full = {w.index: next(iter(w.batches())) for w in src.windows(0, 6)}
    part = {w.index: next(iter(w.batches())) for w in src.windows(3, 5)}
    assert sorted(part) == [3, 4]
    for w, b in part.items():
        np.testing.assert_array_equal(b.example_ids, full[w].example_ids)
        np.testing.assert_array_equal(b.cat_keys, full[w].cat_keys)
        assert int(b.example_ids[0]) >> ROW_BITS == w


def test_csv_and_time_range(tmp_path: Path) -> None:
    make_stream(tmp_path / "s.csv", days=4, rows_per_day=50)
    y = write_yaml(tmp_path / "s.yaml", "s.csv", start="2024-03-02", end="2024-03-04")
    src = open_dataset(str(y))
    assert src.num_windows == 2
    assert rows(src) == [50, 50]


def test_criteo_day_files(tmp_path: Path) -> None:
    src = open_dataset(f"criteo:{make_criteo(tmp_path / 'criteo')}")
    assert src.num_windows == 3
    assert rows(src) == [300, 300, 300]
    b = next(iter(next(iter(src.windows(1, 2))).batches()))
    assert b.cat_keys.shape == (300, 26) and b.numeric.shape == (300, 13)
    assert set(np.unique(b.labels)) <= {0.0, 1.0}


@pytest.mark.parametrize("name", ["sea", "hyperplane", "agrawal", "sine"])
def test_every_synth_generator_streams(name: str) -> None:
    src = open_dataset(f"synth:{name}?windows=2&window_rows=50&seed=1")
    batch = next(iter(next(iter(src.windows(0, 1))).batches()))
    assert batch.labels.shape == (50,)


def test_synth_stream() -> None:
    src = open_dataset("synth:stagger?windows=4&window_rows=100&seed=3")
    assert src.num_windows == 4 and rows(src) == [100] * 4
    again = open_dataset("synth:stagger?windows=4&window_rows=100&seed=3")
    a = next(iter(next(iter(src.windows(2, 3))).batches()))
    b = next(iter(next(iter(again.windows(2, 3))).batches()))
    np.testing.assert_array_equal(a.cat_keys, b.cat_keys)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_sampling_is_seeded_hash_of_example_id() -> None:
    ids = np.arange(200_000, dtype=np.int64) + (7 << ROW_BITS)
    labels = (np.arange(200_000) % 5 == 0).astype(np.float32)
    keep1, _ = Sampler(0.1, "uniform", seed=1).keep(ids, labels)
    keep2, _ = Sampler(0.1, "uniform", seed=1).keep(ids[::-1].copy(), labels[::-1].copy())
    np.testing.assert_array_equal(keep1, keep2[::-1])  # per-example decision, order-free
    assert abs(keep1.mean() - 0.1) < 0.005
    other, _ = Sampler(0.1, "uniform", seed=2).keep(ids, labels)
    assert (keep1 != other).any()
    keep, w = Sampler(0.25, "negatives", seed=1).keep(ids, labels)
    assert keep[labels == 1].all()
    assert abs(keep[labels == 0].mean() - 0.25) < 0.01
    assert np.all(w[labels == 0] == 4.0) and np.all(w[labels == 1] == 1.0)
    # nested: every example kept at rate 0.1 is also kept at rate 0.3
    k3, _ = Sampler(0.3, "uniform", seed=1).keep(ids, labels)
    assert np.all(k3[keep1])


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    y = write_yaml(tmp_path / "a.yaml", "nope.parquet")
    with pytest.raises(ConfigError, match=r"nope\.parquet"):
        open_dataset(str(y))
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        open_dataset(str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="no-such-dir"):
        open_dataset(f"criteo:{tmp_path / 'no-such-dir'}")


def test_wrong_column_names_the_column(tmp_path: Path) -> None:
    make_stream(tmp_path / "s.parquet", days=2, rows_per_day=10)
    y = write_yaml(tmp_path / "s.yaml", "s.parquet", categorical=["site", "colour"])
    with pytest.raises(ConfigError, match="'colour' not found"):
        open_dataset(str(y))
    y = write_yaml(tmp_path / "t.yaml", "s.parquet", timestamp="time")
    with pytest.raises(ConfigError, match="timestamp column 'time' not found"):
        open_dataset(str(y))
    y = write_yaml(tmp_path / "u.yaml", "s.parquet", label="click > 0")
    with pytest.raises(ConfigError, match="'click' not found"):
        open_dataset(str(y))


def test_unsorted_rows_are_a_data_error(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    t = make_stream(tmp_path / "s.parquet", days=2, rows_per_day=10)
    pq.write_table(t.take(list(range(19, -1, -1))), tmp_path / "s.parquet")
    y = write_yaml(tmp_path / "s.yaml", "s.parquet")
    with pytest.raises(DataError, match="sorted by 'ts'"):
        open_dataset(str(y))


def test_corrupt_criteo_row_names_file_and_row(tmp_path: Path) -> None:
    d = make_criteo(tmp_path / "c", days=2, rows=20)
    lines = (d / "day_1").read_text().splitlines()
    lines[7] = "\t".join(lines[7].split("\t")[:30])  # truncated row
    (d / "day_1").write_text("\n".join(lines) + "\n")
    src = open_dataset(f"criteo:{d}")
    with pytest.raises(DataError, match=r"day_1.*Expected 40 columns"):
        rows(src)


def test_bad_criteo_label_and_int(tmp_path: Path) -> None:
    d = make_criteo(tmp_path / "c", days=1, rows=20)
    lines = (d / "day_0").read_text().splitlines()
    parts = lines[4].split("\t")
    parts[0] = "7"
    lines[4] = "\t".join(parts)
    (d / "day_0").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"day_0: row 5: label must be 0 or 1"):
        rows(open_dataset(f"criteo:{d}"))
    parts[0], parts[3] = "1", "abc"
    lines[4] = "\t".join(parts)
    (d / "day_0").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"day_0.*abc"):
        rows(open_dataset(f"criteo:{d}"))


def test_bad_inputs_exit_codes_from_the_cli(tmp_path: Path, tiny: Path) -> None:
    r = run_trainer("--dataset", str(tmp_path / "absent.yaml"))
    assert r.returncode == 2 and "absent.yaml" in r.stderr
    d = make_criteo(tmp_path / "c", days=1, rows=20)
    (d / "day_0").write_text("1\t2\tgarbage\n")
    out = tmp_path / "r.json"
    r = run_trainer("--dataset", f"criteo:{d}", HS_RESULT_FILE=str(out))
    assert r.returncode == 3 and "day_0" in r.stderr and "corrupt" in r.stderr
    res = read_json(out)
    assert res["status"] == "failed" and "day_0" in res["error"] and res["exit_code"] == 3
