"""Trainer throughput on flights-3m: examples/s per model, and the overhead of progressive
validation + the Prometheus exporter against a bare training loop, measured in the same run.

Both arms replay the same featurised windows from memory (data loading is excluded from both),
run alternately (bare, full, bare, full, ...) to spread machine noise, and the best time of each
arm is compared. The full arm serves /metrics and is scraped every 0.5 s (30x Prometheus' default
rate) by a thread in this process.

    python benchmarks/trainer_throughput.py [--models fm,dlrm] [--repeats 2] [--windows 181]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from hypersearch_trainer.checkpoint import Checkpointer
from hypersearch_trainer.datasets import open_dataset
from hypersearch_trainer.exporter import TrainerMetrics, serve
from hypersearch_trainer.features import Batch
from hypersearch_trainer.loop import OnlineTrainer
from hypersearch_trainer.main import available_cpus
from hypersearch_trainer.models import build_model
from hypersearch_trainer.optim import Optimizer
from hypersearch_trainer.params import HyperParams, parse_params
from hypersearch_trainer.sampling import Sampler
from hypersearch_trainer.sources import Window


@dataclass
class MemorySource:
    """Pre-featurised windows, so both arms pay nothing for reading and hashing."""

    name: str
    num_windows: int
    categorical_names: list[str]
    numeric_names: list[str]
    has_strata: bool
    data: list[tuple[int, str, list[Batch]]]

    def windows(self, start: int, stop: int) -> Iterator[Window]:
        for w, label, batches in self.data[start:stop]:
            yield Window(w, label, lambda b=batches: iter(b))  # type: ignore[misc]


def load(dataset: str, n_windows: int) -> MemorySource:
    src = open_dataset(dataset)
    n = min(n_windows, src.num_windows)
    data = [(w.index, w.label, list(w.batches())) for w in src.windows(0, n)]
    return MemorySource(src.name, n, src.categorical_names, src.numeric_names, src.has_strata, data)


def bare_loop(src: MemorySource, hp: HyperParams) -> tuple[float, int]:
    """Just training: the same batches, model and optimizer, nothing else."""
    torch.manual_seed(0)
    model = build_model(hp, len(src.categorical_names), len(src.numeric_names))
    opt = Optimizer(model, hp)
    buckets = np.uint64(hp.hash_buckets)
    n = 0
    t0 = time.perf_counter()
    for _, _, batches in src.data:
        for chunk in batches:
            for lo in range(0, len(chunk), hp.batch_size):
                b = chunk.slice(lo, lo + hp.batch_size)
                cat = torch.from_numpy((b.cat_keys % buckets).astype(np.int64))
                z = model(cat, torch.from_numpy(b.numeric))
                y = torch.from_numpy(b.labels)
                w = torch.ones_like(y)
                loss = F.binary_cross_entropy_with_logits(z, y, weight=w, reduction="sum") / w.sum()
                opt.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
                n += len(b)
    return time.perf_counter() - t0, n


def full_loop(src: MemorySource, hp: HyperParams) -> tuple[float, int, int]:
    """The real loop: progressive validation of every window + exporter being scraped."""
    torch.manual_seed(0)
    model = build_model(hp, len(src.categorical_names), len(src.numeric_names))
    metrics = TrainerMetrics(src.num_windows)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = serve(metrics, port, "127.0.0.1")
    stop = threading.Event()
    scrapes = [0]

    def scraper() -> None:
        while not stop.wait(0.5):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                r.read()
            scrapes[0] += 1

    th = threading.Thread(target=scraper, daemon=True)
    th.start()
    trainer = OnlineTrainer(
        src, model, Optimizer(model, hp), hp, Sampler(), metrics, Checkpointer(None, {}),
        torch.device("cpu"), 0, src.num_windows,
    )  # fmt: skip
    t0 = time.perf_counter()
    assert trainer.run(lambda: False)
    dt = time.perf_counter() - t0
    stop.set()
    th.join()
    server.shutdown()
    evaluated = sum(r.examples for r in trainer.state.history)
    return dt, metrics.snapshot()["train_examples"], evaluated


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dataset", default="flights-3m")
    ap.add_argument("--models", default="fm,dlrm")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--windows", type=int, default=181)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads or available_cpus())
    t0 = time.perf_counter()
    src = load(args.dataset, args.windows)
    rows = sum(len(b) for _, _, bs in src.data for b in bs)
    print(f"dataset {src.name}: {src.num_windows} windows, {rows} rows, loaded+featurised in "
          f"{time.perf_counter() - t0:.1f}s; torch threads {torch.get_num_threads()}")  # fmt: skip
    print(f"{'model':6} {'bare s':>8} {'full s':>8} {'train ex/s':>11} {'(+eval) ex/s':>13} "
          f"{'overhead':>9}  runs (bare | full)")  # fmt: skip
    for name in args.models.split(","):
        hp = parse_params({"model": name})
        bare, full = [], []
        for _ in range(args.repeats):
            bare.append(bare_loop(src, hp)[0])
            dt, trained, evaluated = full_loop(src, hp)
            full.append(dt)
        b, f = min(bare), min(full)
        print(
            f"{name:6} {b:8.2f} {f:8.2f} {trained / f:11.0f} {(trained + evaluated) / f:13.0f} "
            f"{f / b - 1:+9.1%}  {' '.join(f'{x:.1f}' for x in bare)} | "
            f"{' '.join(f'{x:.1f}' for x in full)}  (median ratio "
            f"{statistics.median(full) / statistics.median(bare):.3f})"
        )


if __name__ == "__main__":
    main()
