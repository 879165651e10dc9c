"""Trainer throughput on flights-3m: examples/s per model, and the overhead of progressive
validation + the Prometheus exporter against a bare training loop, measured in the same run.

Both arms replay the same featurised windows from memory (data loading is excluded from both),
run alternately (bare, full, bare, full, ...) to spread machine noise, and the best of each arm
is compared, both in wall-clock time and in this process's CPU time (all its threads, the
exporter's HTTP thread included). CPU time is the robust figure on a shared machine: wall
time there swings several-fold with other tenants' load. The full arm serves /metrics and is
scraped every 0.5 s (``--scrape-every``; 30x Prometheus' default rate) by a separate process.

    python benchmarks/trainer_throughput.py [--models fm,dlrm] [--repeats 3] [--windows 181]
        [--threads 1]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from hypersearch_trainer.checkpoint import Checkpointer
from hypersearch_trainer.datasets import open_dataset
from hypersearch_trainer.exporter import TrainerMetrics, serve
from hypersearch_trainer.features import Batch
from hypersearch_trainer.loop import OnlineTrainer
from hypersearch_trainer.main import available_cpus
from hypersearch_trainer.models import bucket_indices, build_model
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

    def windows(self, start: int, stop: int, rows: object = None) -> Iterator[Window]:
        """Every row (both arms score and train the same rows)."""
        for w, label, batches in self.data[start:stop]:
            yield Window(w, label, lambda b=batches: iter(b))  # type: ignore[misc]


def load(dataset: str, n_windows: int) -> MemorySource:
    src = open_dataset(dataset)
    n = min(n_windows, src.num_windows)
    data = [(w.index, w.label, list(w.batches())) for w in src.windows(0, n)]
    return MemorySource(src.name, n, src.categorical_names, src.numeric_names, src.has_strata, data)


def bare_loop(src: MemorySource, hp: HyperParams) -> tuple[float, float, int]:
    """Just training: the same batches, model and optimizer, nothing else."""
    torch.manual_seed(0)
    model = build_model(hp, len(src.categorical_names), len(src.numeric_names))
    opt = Optimizer(model, hp)
    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for _, _, batches in src.data:
        for chunk in batches:
            idx = bucket_indices(chunk.cat_keys, hp.hash_buckets)
            for lo in range(0, len(chunk), hp.batch_size):
                b = chunk.slice(lo, lo + hp.batch_size)
                z = model(idx[lo : lo + hp.batch_size], torch.from_numpy(b.numeric))
                y = torch.from_numpy(b.labels)
                w = torch.ones_like(y)
                loss = F.binary_cross_entropy_with_logits(z, y, weight=w, reduction="sum") / w.sum()
                opt.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
                n += len(b)
    return time.perf_counter() - t0, time.process_time() - c0, n


SCRAPER = """
import sys, time, urllib.request
while True:
    time.sleep(float(sys.argv[2]))
    try:
        urllib.request.urlopen(sys.argv[1], timeout=5).read()
    except OSError:
        pass
"""


def full_loop(
    src: MemorySource, hp: HyperParams, scrape_every: float
) -> tuple[float, float, int, int]:
    """The real loop: progressive validation of every window + exporter being scraped."""
    torch.manual_seed(0)
    model = build_model(hp, len(src.categorical_names), len(src.numeric_names))
    metrics = TrainerMetrics(src.num_windows)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = serve(metrics, port, "127.0.0.1")
    url = f"http://127.0.0.1:{port}/metrics"
    scraper = subprocess.Popen([sys.executable, "-c", SCRAPER, url, str(scrape_every)])
    trainer = OnlineTrainer(
        src, model, Optimizer(model, hp), hp, Sampler(), metrics, Checkpointer(None, {}),
        torch.device("cpu"), 0, src.num_windows,
    )  # fmt: skip
    t0, c0 = time.perf_counter(), time.process_time()
    assert trainer.run(lambda: False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    scraper.terminate()
    scraper.wait()
    server.shutdown()
    evaluated = sum(r.examples for r in trainer.state.history)
    return wall, cpu, metrics.snapshot()["train_examples"], evaluated


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dataset", default="flights-3m")
    ap.add_argument("--models", default="fm,dlrm")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--windows", type=int, default=181)
    ap.add_argument("--scrape-every", type=float, default=0.5, help="seconds between scrapes")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: all available)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads or available_cpus())
    t0 = time.perf_counter()
    src = load(args.dataset, args.windows)
    rows = sum(len(b) for _, _, bs in src.data for b in bs)
    print(f"dataset {src.name}: {src.num_windows} windows, {rows} rows, loaded+featurised in "
          f"{time.perf_counter() - t0:.1f}s; torch threads {torch.get_num_threads()}")  # fmt: skip
    results = []
    for name in args.models.split(","):
        hp = parse_params({"model": name})
        bare: list[tuple[float, float]] = []
        full: list[tuple[float, float]] = []
        for i in range(args.repeats):
            bw, bc, trained = bare_loop(src, hp)
            fw, fc, trained_full, evaluated = full_loop(src, hp, args.scrape_every)
            assert trained == trained_full
            bare.append((bw, bc))
            full.append((fw, fc))
            print(f"  {name} run {i + 1}: bare {bw:.1f}s wall {bc:.1f}s cpu | "
                  f"full {fw:.1f}s wall {fc:.1f}s cpu", flush=True)  # fmt: skip
        results.append((name, bare, full, trained, evaluated))
    print()
    print(f"{'model':6} {'arm':5} {'best wall s':>11} {'best cpu s':>10} {'train ex/s (cpu)':>16} "
          f"{'scored+trained ex/s (cpu)':>25}")  # fmt: skip
    for name, bare, full, trained, evaluated in results:
        bw, bc = min(x[0] for x in bare), min(x[1] for x in bare)
        fw, fc = min(x[0] for x in full), min(x[1] for x in full)
        print(f"{name:6} {'bare':5} {bw:11.2f} {bc:10.2f} {trained / bc:16.0f} {'':>25}")
        print(f"{name:6} {'full':5} {fw:11.2f} {fc:10.2f} {trained / fc:16.0f} "
              f"{(trained + evaluated) / fc:25.0f}")  # fmt: skip
        print(f"{name:6} overhead of progressive validation + exporter: "
              f"{fc / bc - 1:+.1%} (cpu time), {fw / bw - 1:+.1%} (wall time)")  # fmt: skip


if __name__ == "__main__":
    main()
