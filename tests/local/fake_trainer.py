"""A tiny trainer speaking the HyperSearch protocol, with failure modes for runner tests.

Metric of window w: 0.5 + 0.1*sin(w/3) (shared drift) + (x - 0.3)**2 (the config's gap), so
the best configuration is known. HS_FAKE_MODES="trial-name:mode,..." picks a failure mode:
crash (exit 3), silent (never serves metrics), hang (stops progressing, ignores SIGTERM).
It exports no compute counters unless HS_FAKE_COUNTERS=1 (then its own CPU time), so the runner
measures its CPU itself; HS_FAKE_SPIN burns that many CPU-seconds per window, and on its way out
it writes the CPU time it used (getrusage of itself and its children) to HS_RESULT_FILE.
With HS_FAKE_RECORD=1 it writes the params it was given (HS_PARAM_* and its arguments) to
seen.json in its checkpoint directory.
"""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import sys
import threading
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, start_http_server


def main() -> int:
    env = os.environ
    name = env.get("HS_TRIAL", "")
    modes = dict(p.split(":", 1) for p in env.get("HS_FAKE_MODES", "").split(",") if ":" in p)
    mode = modes.get(name, "ok")
    step = float(env.get("HS_FAKE_STEP", "0.05"))
    x = float(env.get("HS_PARAM_x", "0.5"))
    start, stop = int(env["HS_DATA_START"]), int(env["HS_DATA_STOP"])
    rate = float(env["HS_DATA_RATE"])
    if env.get("HS_FAKE_RECORD") == "1":
        seen = {k[len("HS_PARAM_") :]: v for k, v in env.items() if k.startswith("HS_PARAM_")}
        Path(env["HS_CHECKPOINT_DIR"]).mkdir(parents=True, exist_ok=True)
        (Path(env["HS_CHECKPOINT_DIR"]) / "seen.json").write_text(
            json.dumps({"env": seen, "argv": sys.argv[1:], "stage": env.get("HS_STAGE")})
        )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    if mode == "silent":
        while not stopping.wait(1):
            pass
        return 0
    reg = CollectorRegistry()
    pos = Gauge("hypersearch_trainer_position", "p", registry=reg)
    ex = Gauge("hypersearch_trainer_train_examples_total", "e", registry=reg)
    wm = Gauge(
        "hypersearch_trainer_window_metric", "m", ["window", "metric", "stratum"], registry=reg
    )
    done = Gauge("hypersearch_trainer_done", "d", registry=reg)
    if env.get("HS_FAKE_COUNTERS") == "1":
        cpu = Gauge("hypersearch_trainer_cpu_seconds_total", "c", registry=reg)
        cpu.set_function(time.process_time)
    spin = float(env.get("HS_FAKE_SPIN", "0"))
    start_http_server(int(env["HS_METRICS_PORT"]), addr=env["HS_METRICS_HOST"], registry=reg)
    ckpt = Path(env["HS_CHECKPOINT_DIR"]) / "window"
    w = int(ckpt.read_text()) if ckpt.is_file() else start
    for v in range(start, w):
        wm.labels(str(v), "logloss", "all").set(metric(v, x))
    pos.set(w)
    ex.set((w - start) * 1000 * rate)
    while w < stop:
        if mode == "crash" and w >= start + 3:
            print("fake trainer: simulated crash (CUDA out of memory)", file=sys.stderr)
            return 3
        if mode == "hang" and w >= start + 3:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            while True:
                time.sleep(1)
        if stopping.is_set():
            break
        wm.labels(str(w), "logloss", "all").set(metric(w, x))
        burn(spin)
        time.sleep(step)
        w += 1
        pos.set(w)
        ex.set((w - start) * 1000 * rate)
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        ckpt.write_text(str(w))
    if w >= stop:
        done.set(1)
        stopping.wait(float(env.get("HS_METRICS_LINGER", "0")))
    report_cpu(env.get("HS_RESULT_FILE"))
    return 0


def burn(seconds: float) -> None:
    """Spin until this process has used ``seconds`` more CPU time."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def report_cpu(path: str | None) -> None:
    if not path:
        return
    used = sum(
        u.ru_utime + u.ru_stime
        for u in (resource.getrusage(resource.RUSAGE_SELF),
                  resource.getrusage(resource.RUSAGE_CHILDREN))
    )  # fmt: skip
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps({"cpu_seconds_self": used}))


def metric(w: int, x: float) -> float:
    return 0.5 + 0.1 * math.sin(w / 3) + (x - 0.3) ** 2


if __name__ == "__main__":
    sys.exit(main())
