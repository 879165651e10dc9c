"""What one trial costs in compute against its data rate, as a ratio to a full run in the same run.

For each dataset (flights-3m, and a synthetic drifting stream ten times larger) and model (FM,
DLRM), a real ``hypersearch-trainer`` process runs the whole horizon at rates s in {1, 0.1, 0.03,
0.01}; its CPU-seconds (user + system, from the kernel's rusage of the child: interpreter, torch
import, reading, evaluation, training) are divided by the full run's. Reduced runs use prepared
data and score an evaluation sample at the run's own rate (``HS_EVAL_RATE = s``); the "before"
column is the same reduced run the way trials ran before: raw files, every example scored. The
"forked" column is the reduced run forked from a warm trainer process (``HS_FORKSERVER``, what
the local runner does): its CPU is the trainer's own counter (validated against the kernel's
rusage in tests/trainer/test_compute.py) plus its small client process. One-time costs, paid
once per search or machine, are measured separately: preparing each dataset, and starting the
fork server (importing torch). One torch thread per process, as a search on a shared machine runs
them. ``--quickstart`` also runs the README's quickstart search and prints its compute reduction
next to its example reduction.

    python benchmarks/trainer_cost.py [--datasets flights-3m,stream-30m] [--models fm,dlrm]
        [--rates 1,0.1,0.03,0.01] [--rows-per-day 165746]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CACHE = Path(os.environ.get("HYPERSEARCH_CACHE", str(Path.home() / ".cache" / "hypersearch")))
DAYS = 181
# Fixed, ordinary settings: the benchmark measures the data path, not a configuration.
PARAMS = {"fm": {"embedding_dim": "8"}, "dlrm": {"embedding_dim": "8"}}


def synthetic_stream(rows_per_day: int, seed: int = 0) -> Path:
    """A drifting click stream of DAYS days (30M rows by default), generated once and cached.

    Users, ads and contexts as hashed ids with day-to-day drift of the click rates; two numeric
    features. Written as Parquet with a dataset YAML beside it.
    """
    name = f"stream-{rows_per_day * DAYS // 1_000_000}m"
    directory = CACHE / "bench" / "streams"
    data, spec = directory / f"{name}-{rows_per_day}.parquet", directory / f"{name}.yaml"
    if not data.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        tmp = data.with_suffix(".part")
        writer = None
        ad_bias = rng.normal(-1.5, 0.8, 5000)
        site_bias = rng.normal(0.0, 0.5, 300)
        for day in range(DAYS):
            n = rows_per_day
            secs = np.sort(rng.integers(0, 86400, n))
            ts = np.datetime64("2024-01-01", "s") + day * 86400 + secs.astype("timedelta64[s]")
            ad = rng.zipf(1.3, n) % 5000
            site = rng.integers(0, 300, n)
            user = rng.integers(0, 1_000_000, n)
            device = rng.integers(0, 4, n)
            price = rng.lognormal(2, 1, n).astype(np.float32)
            drift = 0.6 * np.sin(2 * np.pi * (day / 45.0 + ad / 5000.0))  # ads rise and fall
            logit = (
                ad_bias[ad] + site_bias[site] + drift + 0.3 * (device == 1) - 0.1 * np.log1p(price)
            )
            click = rng.random(n) < 1 / (1 + np.exp(-logit))
            table = pa.table({
                "ts": pa.array(ts.astype("datetime64[us]")),
                "ad": pa.array(ad.astype(np.int32)), "site": pa.array(site.astype(np.int32)),
                "user": pa.array(user.astype(np.int32)), "device": pa.array(device.astype(np.int8)),
                "price": pa.array(price), "hour": pa.array((secs // 3600).astype(np.int8)),
                "click": pa.array(click),
            })  # fmt: skip
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table, row_group_size=1 << 17)
        assert writer is not None
        writer.close()
        tmp.replace(data)
    spec.write_text(
        f"name: {name}\npath: {data.name}\ntimestamp: ts\nwindow: 1d\nlabel: click\n"
        "categorical: [ad, site, user, device, hour]\nnumeric: [price]\n"
    )
    return spec


def trainer(env: dict[str, str]) -> dict[str, Any]:
    """Run one trainer process to its end; its result plus the kernel's CPU account of it.

    For a forked trial (``HS_FORKSERVER`` in env) the kernel's account of the client process is
    added to the trainer's own counter (the work happens in the fork server's child)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("HS_")}
        full_env.update(env, HS_RESULT_FILE=str(out), HS_METRICS_PORT="0", HS_THREADS="1")
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "hypersearch_trainer", "-q"], env=full_env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"trainer failed: {env}")
        result = json.loads(out.read_text())
    cpu = usage.ru_utime + usage.ru_stime
    if "HS_FORKSERVER" in env:
        cpu = result["cpu_seconds"]  # includes the client's CPU (forkserver.py)
    return {"cpu": cpu, "wall": wall,
            "reported": result["cpu_seconds"], "trained": result["examples_trained"],
            "scored": result["examples_evaluated"]}  # fmt: skip


def prepare(dataset: str, root: Path) -> float:
    """CPU-seconds of preparing ``dataset`` once (from scratch)."""
    shutil.rmtree(root, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HS_")}
    env.update(HS_DATASET=dataset, HS_PREPARED_DATA=str(root), HS_SEED="0")
    proc = subprocess.Popen([sys.executable, "-m", "hypersearch_trainer", "prepare"], env=env,
                            stdout=subprocess.DEVNULL)  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"prepare failed: {dataset}")
    return usage.ru_utime + usage.ru_stime


def quickstart() -> dict[str, Any]:
    """The README's quickstart search: its compute reduction next to its example reduction."""
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["hypersearch", "run", str(repo / "manifests/examples/quickstart.yaml"),
               "--state-dir", f"{tmp}/qs", "--quiet"]  # fmt: skip
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        cost = json.loads(Path(f"{tmp}/qs/results.json").read_text())["cost"]
    compute, examples = cost["reduction"], cost["examplesReduction"]
    print(
        f"\nquickstart: compute reduction {compute}x ({cost['totalCpuSeconds']:.0f} CPU-s, "
        f"full search {cost['fullSearchCpuSeconds']:.0f}, {cost['fullRunComputeSource']}); "
        f"examples reduction {examples}x; ratio {compute / examples:.2f}"
    )
    return dict(cost)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default="flights-3m,stream-30m")
    ap.add_argument("--models", default="fm,dlrm")
    ap.add_argument("--rates", default="1,0.1,0.03,0.01")
    ap.add_argument("--rows-per-day", type=int, default=165_746)  # 30.0M rows over 181 days
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--quickstart", action="store_true", help="also run the quickstart search")
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    report: dict[str, Any] = {}
    sock = Path(tempfile.mkdtemp(prefix="hs-bench-")) / "fork.sock"
    fork_env = {"HS_FORKSERVER": str(sock), "HS_FORKSERVER_IDLE_SECONDS": "600"}
    if args.datasets:
        warm = trainer({"HS_DATASET": "synth:sea?windows=2&window_rows=100", **fork_env})
        print(f"starting the fork server once cost {warm['cpu']:.1f} CPU-s (torch import)")
        report["forkserver_start_cpu_seconds"] = warm["cpu"]
    for name in filter(None, args.datasets.split(",")):
        dataset = str(synthetic_stream(args.rows_per_day)) if name.startswith("stream") else name
        root = CACHE / "bench" / "prepared-cost"
        prep_cpu = prepare(dataset, root)
        print(f"\n{name}: preparing the data once cost {prep_cpu:.1f} CPU-s")
        print(f"{'model':5} {'rate':>6} {'CPU-s':>8} {'of full':>8} {'forked':>8} {'of full':>8} "
              f"{'before':>8} {'trained':>11} {'scored':>11}")  # fmt: skip
        report[name] = {"prepare_cpu_seconds": prep_cpu, "runs": []}
        for model in args.models.split(","):
            params = {f"HS_PARAM_{k}": v for k, v in {"model": model, **PARAMS[model]}.items()}
            full = None
            for rate in rates:
                env = {"HS_DATASET": dataset, "HS_DATA_RATE": str(rate), "HS_SEED": "0", **params}
                if rate >= 1.0:
                    run = trainer(env)  # a full run: raw files, every example scored
                    full, before, forked = run, None, None
                else:
                    reduced = {**env, "HS_PREPARED_DATA": str(root), "HS_EVAL_RATE": str(rate)}
                    run = trainer(reduced)
                    forked = trainer({**reduced, **fork_env})
                    before = trainer(env) if rate == min(rates) else None
                assert full is not None, "list rate 1 first: it is the baseline"
                ratio = run["cpu"] / full["cpu"]
                was = f"{before['cpu'] / full['cpu']:7.1%}" if before else ""
                fk = (
                    f"{forked['cpu']:8.1f} {forked['cpu'] / full['cpu']:8.1%}"
                    if forked
                    else " " * 17
                )
                print(f"{model:5} {rate:6g} {run['cpu']:8.1f} {ratio:8.1%} {fk} {was:>8} "
                      f"{run['trained']:11,d} {run['scored']:11,d}")  # fmt: skip
                report[name]["runs"].append({"model": model, "rate": rate, **run, "of_full": ratio,
                                             "forked": forked, "before": before})  # fmt: skip
    if args.quickstart:
        report["quickstart"] = quickstart()
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
