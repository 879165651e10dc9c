"""A drifting click stream with a rank reversal by construction (issue 16's other stream).

Clicks depend mostly on a low-rank interaction between ``site`` and ``ad`` (``u_site(t) · v_ad``,
rank 2, the site factors rotating slowly over the days: drift). A logistic regression over
one-hot features cannot represent the interaction, so it plateaus early; a factorization machine
or a DLRM can, but only with enough data to learn the embeddings. On a small sample the linear
model wins; on all the data the embedding models do: the ranking of model families reverses with
the data rate, the failure mode of issue 16.

    python -m tests.bench.reversal_stream DIR [--days 30] [--rows-per-day 100000] [--seed 0]

writes ``DIR/reversal.parquet`` and ``DIR/reversal.yaml`` (a dataset YAML of the trainer, for
``hypersearch bench search-quality --dataset DIR/reversal.yaml``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml


def make_reversal_stream(
    directory: Path, days: int = 30, rows_per_day: int = 100_000, seed: int = 0
) -> Path:
    rng = np.random.default_rng(seed)
    sites, ads, rank = 3000, 1000, 3
    n = days * rows_per_day
    day = np.repeat(np.arange(days), rows_per_day)
    secs = np.sort(rng.integers(0, 86400, size=n).reshape(days, rows_per_day), axis=1).ravel()
    ts = np.datetime64("2024-03-01") + (day * 86400 + secs).astype("timedelta64[s]")
    site = rng.integers(0, sites, size=n)
    ad = rng.integers(0, ads, size=n)
    device = rng.choice(np.array(["ios", "android", "web"]), size=n)
    price = rng.lognormal(3, 1, size=n)
    u0, u1 = rng.normal(0, 1, (sites, rank)), rng.normal(0, 1, (sites, rank))
    v = rng.normal(0, 1, (ads, rank))
    angle = day * (np.pi / 2 / days)  # a quarter turn of the site factors over the stream
    u = np.cos(angle)[:, None] * u0[site] + np.sin(angle)[:, None] * u1[site]
    interaction = (u * v[ad]).sum(axis=1)
    logit = -1.6 + 0.5 * rng.normal(0, 1, sites)[site] + 0.3 * rng.normal(0, 1, ads)[ad]
    logit += 0.8 * interaction
    logit += np.where(device == "ios", 0.3, -0.1) - 0.1 * np.log1p(price) + 0.01 * day
    clicked = rng.random(n) < 1 / (1 + np.exp(-logit))
    table = pa.table(
        {
            "ts": pa.array(ts.astype("datetime64[us]")),
            "site": pa.array(np.char.add("s", site.astype(str))),
            "ad": pa.array(np.char.add("a", ad.astype(str))),
            "device": pa.array(device),
            "price": pa.array(price),
            "clicks": pa.array(clicked.astype(np.int64)),
        }
    )
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, directory / "reversal.parquet", row_group_size=100_000)
    spec = {
        "name": "reversal",
        "path": "reversal.parquet",
        "timestamp": "ts",
        "window": "1d",
        "label": "clicks > 0",
        "categorical": ["site", "ad", "device", "hour(ts)"],
        "numeric": ["price"],
        "stratum": "device",
    }
    out = directory / "reversal.yaml"
    out.write_text(yaml.safe_dump(spec))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows-per-day", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    print(make_reversal_stream(a.directory, a.days, a.rows_per_day, a.seed))


if __name__ == "__main__":
    main()
