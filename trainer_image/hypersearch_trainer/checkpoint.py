"""Checkpoints at safe points: model, optimizers, RNG states, metric history and counters.

A checkpoint is written to a temporary file and atomically renamed, so a pod killed while
writing leaves the previous checkpoint intact. A fingerprint of everything that changes the
results (parameters, dataset, data reduction, seed) guards against resuming a different run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from hypersearch_trainer.errors import ConfigError

FILENAME = "trainer-checkpoint.pt"
FORMAT_VERSION = 1


class Checkpointer:
    """Reads and writes the single checkpoint file of a run directory."""

    def __init__(self, directory: Path | None, fingerprint: dict[str, Any]) -> None:
        self.directory = directory
        self.fingerprint = fingerprint

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    @property
    def path(self) -> Path | None:
        return None if self.directory is None else self.directory / FILENAME

    def save(self, state: dict[str, Any]) -> None:
        """Atomically replace the checkpoint."""
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / FILENAME
        tmp = path.with_suffix(".tmp")
        payload = {"version": FORMAT_VERSION, "fingerprint": self.fingerprint, **state}
        with tmp.open("wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when there is none; a different run's checkpoint is an error."""
        path = self.path
        if path is None or not path.is_file():
            return None
        try:
            state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:
            raise ConfigError(f"checkpoint {path} is unreadable: {exc}") from None
        if state.get("version") != FORMAT_VERSION:
            raise ConfigError(f"checkpoint {path} has format {state.get('version')}, expected 1")
        saved = state.get("fingerprint", {})
        diff = sorted(
            k for k in set(saved) | set(self.fingerprint) if saved.get(k) != self.fingerprint.get(k)
        )
        if diff:
            raise ConfigError(
                f"checkpoint {path} belongs to a different run (differs in: {', '.join(diff)}); "
                "use another HS_CHECKPOINT_DIR or delete it"
            )
        return state
