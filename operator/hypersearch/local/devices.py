"""Which accelerators this machine has, cheaply: one trial per visible CUDA device by default."""

from __future__ import annotations

import os
import shutil
import subprocess


def cuda_devices() -> list[str]:
    """Device ids a trial can be pinned to with CUDA_VISIBLE_DEVICES (empty without GPUs).

    Honours an existing CUDA_VISIBLE_DEVICES; asks ``nvidia-smi -L`` (fast, no CUDA context)
    and never imports torch, which would cost seconds and memory in the runner.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip() and d.strip() != "-1"]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode != 0:
        return []
    return [str(i) for i, line in enumerate(out.stdout.splitlines()) if line.startswith("GPU ")]


def cpu_count() -> int:
    """CPUs this process may use (affinity mask), for splitting threads between trials."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
