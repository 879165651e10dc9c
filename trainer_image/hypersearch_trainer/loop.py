"""The online training loop with progressive validation.

For every window, in time order: score its evaluation sample with the current model (every
example at ``eval_rate`` 1; otherwise a seeded hash sample shared by all trials, so every trial
is judged on the same examples), then train on the sub-sampled examples. Only the rows one of
the two needs are read and featurised, which is what makes a reduced run cheap. Safe points for
SIGTERM are between eval chunks and between training batches; a checkpoint taken mid-window stores the window's eval result and how many batches were trained,
so a resumed process continues exactly where the first stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from hypersearch_trainer.checkpoint import Checkpointer
from hypersearch_trainer.exporter import TrainerMetrics
from hypersearch_trainer.features import Batch
from hypersearch_trainer.metrics import WindowResult, score_window
from hypersearch_trainer.models import CTRModel, bucket_indices
from hypersearch_trainer.optim import Optimizer
from hypersearch_trainer.params import HyperParams
from hypersearch_trainer.sampling import RowSelection, Sampler
from hypersearch_trainer.sources import Source, Window

log = logging.getLogger("hypersearch_trainer")

# Evaluation rates below 1 whose nested-sample loss is recorded when a window is scored in full,
# so a benchmark can replay what any of them would have measured (the samples are nested).
EVAL_LADDER = (0.01, 0.03, 0.1, 0.3)
CACHE_ROWS = 4_000_000  # windows up to this many rows are kept in memory between eval and training


@dataclass
class Scores:
    """A window's evaluation sample, scored (and the chunks read, kept for training if small)."""

    cache: list[tuple[Batch, torch.Tensor]] | None
    rows: int  # rows read: the training sample and the evaluation sample
    logits: npt.NDArray[np.float32]
    losses: npt.NDArray[np.float64]
    labels: npt.NDArray[np.float32]
    strata: npt.NDArray[np.str_] | None
    example_ids: npt.NDArray[np.int64]


@dataclass
class LoopState:
    """Everything that must survive a restart."""

    next_window: int
    history: list[WindowResult] = field(default_factory=list)
    partial: dict[str, Any] | None = None  # mid-window: eval result + batches trained
    elapsed_s: float = 0.0
    finished: bool = False


class OnlineTrainer:
    """Runs windows ``[start, stop)`` of a source through a model."""

    def __init__(
        self,
        source: Source,
        model: CTRModel,
        optimizer: Optimizer,
        hp: HyperParams,
        sampler: Sampler,
        metrics: TrainerMetrics,
        checkpointer: Checkpointer,
        device: torch.device,
        start: int,
        stop: int,
        eval_batch_size: int = 65536,
        checkpoint_every: float = 30.0,
        progressive_eval: bool = True,
        eval_rate: float = 1.0,
        full_eval_windows: range = range(0),
    ) -> None:
        self.source = source
        self.model = model.to(device)
        self.optimizer = optimizer
        self.hp = hp
        self.sampler = sampler
        self.metrics = metrics
        self.ckpt = checkpointer
        self.device = device
        self.start, self.stop = start, stop
        self.eval_batch_size = eval_batch_size
        self.checkpoint_every = checkpoint_every
        self.progressive_eval = progressive_eval
        self.eval_rate = eval_rate
        self.full_eval_windows = full_eval_windows  # scored in full whatever eval_rate (stage 2)
        self.state = LoopState(next_window=start)
        self._buckets = np.uint64(hp.hash_buckets)
        self._last_ckpt = time.monotonic()
        # observers for tests: called with ("eval"|"train", window index) before each step
        self.on_step: Callable[[str, int], None] | None = None

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Checkpoint payload."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "loop": {
                "next_window": self.state.next_window,
                "history": [r.as_dict() for r in self.state.history],
                "partial": self.state.partial,
                "elapsed_s": self.state.elapsed_s,
                "finished": self.state.finished,
            },
            "counters": self.metrics.snapshot(),
        }

    def load_state_dict(self, st: dict[str, Any]) -> None:
        """Restore from a checkpoint payload (see ``state_dict``)."""
        self.model.load_state_dict(st["model"])
        self.optimizer.load_state_dict(st["optimizer"])
        torch.set_rng_state(st["torch_rng"])
        if st.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(st["cuda_rng"])
        lp = st["loop"]
        self.state = LoopState(
            next_window=int(lp["next_window"]),
            history=[WindowResult.from_dict(r) for r in lp["history"]],
            partial=lp["partial"],
            elapsed_s=float(lp["elapsed_s"]),
            finished=bool(lp["finished"]),
        )
        self.metrics.restore(st["counters"], self.state.history, self.position())

    def position(self) -> float:
        return float(self.state.next_window)

    def checkpoint(self) -> None:
        if self.ckpt.enabled:
            self.ckpt.save(self.state_dict())
            self._last_ckpt = time.monotonic()

    # ------------------------------------------------------------------ tensors
    def _tensors(
        self, b: Batch, cat: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        num = torch.from_numpy(np.ascontiguousarray(b.numeric))
        y = torch.from_numpy(b.labels)
        return cat.to(self.device), num.to(self.device), y.to(self.device)

    # ------------------------------------------------------------------ phases
    def window_eval_rate(self, w: int) -> float:
        """The evaluation sample's rate in window ``w``."""
        return 1.0 if w in self.full_eval_windows else self.eval_rate

    def rows_needed(self) -> RowSelection:
        """What to read of each window: the training sample and the evaluation sample."""
        if self.progressive_eval:
            return RowSelection(self.sampler, self.window_eval_rate)
        return RowSelection(self.sampler, lambda _w: 0.0)

    def _evaluate(
        self, batches: Iterator[Batch], w: int, stop: Callable[[], bool]
    ) -> Scores | None:
        """Score the evaluation sample of window ``w``; None when stopped at a safe point."""
        self.model.eval()
        cache: list[tuple[Batch, torch.Tensor]] | None = []
        rows = 0
        rate = self.window_eval_rate(w)
        logits, losses, labels, strata, scored_ids = [], [], [], [], []
        with torch.inference_mode():
            for chunk in batches:
                if stop():
                    return None
                rows += len(chunk)
                idx = bucket_indices(chunk.cat_keys, self.hp.hash_buckets)
                if cache is not None:
                    cache.append((chunk, idx))
                    if rows > CACHE_ROWS:
                        cache = None
                if rate < 1.0:
                    pick = np.nonzero(self.sampler.scored(chunk.example_ids, rate))[0]
                    chunk, idx = chunk.select(pick), idx[torch.from_numpy(pick)]
                for lo in range(0, len(chunk), self.eval_batch_size):
                    hi = lo + self.eval_batch_size
                    part = chunk.slice(lo, hi)
                    if self.on_step:
                        self.on_step("eval", w)
                    cat, num, y = self._tensors(part, idx[lo:hi])
                    z = self.model(cat, num).float()
                    loss = F.binary_cross_entropy_with_logits(z, y, reduction="none")
                    logits.append(z.cpu().numpy())
                    losses.append(loss.double().cpu().numpy())
                labels.append(chunk.labels)
                scored_ids.append(chunk.example_ids)
                if chunk.strata is not None:
                    strata.append(chunk.strata)
        self.model.train()
        return Scores(
            cache,
            rows,
            _cat(logits, np.float32),
            _cat(losses, np.float64),
            _cat(labels, np.float32),
            np.concatenate(strata) if strata else None,
            _cat(scored_ids, np.int64),
        )

    def _train_step(self, b: Batch, idx: torch.Tensor, weights: npt.NDArray[np.float32]) -> float:
        cat, num, y = self._tensors(b, idx)
        w = torch.from_numpy(weights).to(self.device)
        z = self.model(cat, num)
        loss = F.binary_cross_entropy_with_logits(z, y, weight=w, reduction="sum") / w.sum()
        self.optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        self.optimizer.step()
        return float(loss.detach())

    def _train_batches(
        self, chunks: Iterator[tuple[Batch, torch.Tensor | None]]
    ) -> Iterator[tuple[Batch, torch.Tensor, npt.NDArray[np.float32], int]]:
        """Batches of ``batch_size`` kept rows in time order, spanning chunk boundaries (so how a
        source cuts a window never changes training); with the rows of the window read so far."""
        bs = self.hp.batch_size
        parts: list[tuple[Batch, torch.Tensor, npt.NDArray[np.float32]]] = []
        n = seen = 0
        for chunk, chunk_idx in chunks:
            if chunk_idx is None:
                chunk_idx = bucket_indices(chunk.cat_keys, self.hp.hash_buckets)
            keep, weights = self.sampler.keep(chunk.example_ids, chunk.labels)
            kept = np.nonzero(keep)[0]
            lo = 0
            while lo < len(kept):
                sel = kept[lo : lo + bs - n]
                a, b = int(sel[0]), int(sel[-1]) + 1
                if b - a == len(sel):  # contiguous: views, no copies
                    parts.append((chunk.slice(a, b), chunk_idx[a:b], weights[a:b]))
                else:
                    pick = torch.from_numpy(sel)
                    parts.append((chunk.select(sel), chunk_idx[pick], weights[sel]))
                n += len(sel)
                lo += len(sel)
                if n == bs:
                    yield (*_join(parts), seen + b)
                    parts, n = [], 0
            seen += len(chunk)
        if parts:
            yield (*_join(parts), seen)

    def _train(
        self,
        batches: Iterator[tuple[Batch, torch.Tensor | None]],
        w: int,
        n_rows: int,
        stop: Callable[[], bool],
    ) -> bool:
        """Train on the sub-sampled rows; returns True if stopped at a safe point."""
        partial = self.state.partial
        assert partial is not None
        skip = int(partial["batches_done"])
        step = 0
        for batch, idx, weights, rows_read in self._train_batches(batches):
            if step < skip:
                step += 1
                continue
            if stop():
                return True
            if self.on_step:
                self.on_step("train", w)
            loss = self._train_step(batch, idx, weights)
            step += 1
            partial["batches_done"] = step
            partial["trained"] += len(batch)
            partial["loss_sum"] += loss * len(batch)
            self.metrics.add_trained(len(batch), min(w + rows_read / max(1, n_rows), w + 1.0))
        return False

    # ------------------------------------------------------------------ driver
    def run(self, stop: Callable[[], bool]) -> bool:
        """Process the remaining windows; returns True when finished, False when interrupted."""
        if self.state.finished:
            return True
        t0 = time.monotonic()
        base = self.state.elapsed_s
        try:
            for window in self.source.windows(
                self.state.next_window, self.stop, self.rows_needed()
            ):
                if not self._run_window(window, stop):
                    return False
                self.state.elapsed_s = base + time.monotonic() - t0
                if time.monotonic() - self._last_ckpt >= self.checkpoint_every:
                    self.checkpoint()
            self.state.finished = True
            return True
        finally:
            self.state.elapsed_s = base + time.monotonic() - t0
            self.checkpoint()

    def _run_window(self, window: Window, stop: Callable[[], bool]) -> bool:
        w = window.index
        t_start = time.monotonic()
        self.metrics.set_position(float(w))
        cache: list[tuple[Batch, torch.Tensor]] | None = None
        if self.state.partial is None or self.state.partial["window"] != w:
            if self.progressive_eval:
                cpu0 = time.thread_time()  # scoring runs on this thread; cheap to read per window
                scores = self._evaluate(window.batches(), w, stop)
                if scores is None:
                    return False
                cache, rows = scores.cache, scores.rows
                result = score_window(w, window.label, scores.logits, scores.losses,
                                      scores.labels, scores.strata)  # fmt: skip
                result.eval_cpu_seconds = round(time.thread_time() - cpu0, 4)
                if self.window_eval_rate(w) >= 1.0 and len(scores.losses):
                    u = self.sampler.uniform(scores.example_ids)
                    result.eval_sample = {
                        str(e): [float(scores.losses[u < e].sum()), int((u < e).sum())]
                        for e in EVAL_LADDER
                    }
            else:
                result = WindowResult(w, window.label, 0, 0, 0.0, None, None)
                rows = 0
            self.metrics.add_window(result)
            self.state.partial = {
                "window": w, "result": result.as_dict(), "batches_done": 0,
                "trained": 0, "loss_sum": 0.0, "rows": rows,
            }  # fmt: skip
        partial = self.state.partial
        batches: Iterator[tuple[Batch, torch.Tensor | None]] = (
            iter(cache) if cache is not None else ((b, None) for b in window.batches())
        )
        n_rows = int(partial["rows"]) or sum(len(b) for b in window.batches())
        if self._train(batches, w, n_rows, stop):
            return False
        result = WindowResult.from_dict(partial["result"])
        result.trained = int(partial["trained"])
        result.train_loss = partial["loss_sum"] / result.trained if result.trained else None
        compute = self.metrics.compute.snapshot()  # one read a window: ~1 ms with torch's threads
        result.cpu_seconds = round(compute["cpu_seconds"], 3)
        result.gpu_seconds = round(compute["gpu_seconds"], 3)
        self.state.history.append(result)
        self.state.partial = None
        self.state.next_window = w + 1
        self.metrics.update_window(result)
        self.metrics.set_position(float(w + 1))
        dt_s = time.monotonic() - t_start
        log.info(
            "window %d (%s): logloss=%s auc=%s eval=%d trained=%d %.2fs",
            w, window.label, _fmt(result.logloss), _fmt(result.auc), result.examples,
            result.trained, dt_s,
        )  # fmt: skip
        return True


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.5f}"


def _join(
    parts: list[tuple[Batch, torch.Tensor, npt.NDArray[np.float32]]],
) -> tuple[Batch, torch.Tensor, npt.NDArray[np.float32]]:
    if len(parts) == 1:
        return parts[0]
    return (
        Batch.concat([p[0] for p in parts]),
        torch.cat([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


def _cat(parts: list[Any], dtype: Any) -> Any:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)
