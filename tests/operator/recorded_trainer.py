"""A trainer that plays back a recorded trajectory, one window per scrape.

Each GET of /metrics reveals one more window of the run's recorded curve, so a live executor
(which scrapes every running trial once per round) sees exactly what the replay executor feeds
the engine in one tick. The recording (``HS_RECORDING``, JSON) maps ``<config>@<rate>`` to the
per-window metric of that configuration trained at that data rate.

Run as ``python recorded_trainer.py``; it speaks the trainer protocol (HS_METRICS_HOST/PORT,
HS_PARAM_config, HS_DATA_START/STOP/RATE, HS_METRICS_LINGER) and exits 0 when stopped.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import sys
import threading
import time


def main() -> None:
    recording = json.loads(open(os.environ["HS_RECORDING"]).read())  # noqa: SIM115
    rate = float(os.environ.get("HS_DATA_RATE", "1"))
    start = int(os.environ.get("HS_DATA_START", "0"))
    curve = recording[f"{os.environ['HS_PARAM_config']}@{rate:g}"]  # noqa: SIM112
    stop = int(os.environ.get("HS_DATA_STOP", str(start + len(curve))))
    curve = curve[start:stop]
    examples_per_window = round(1000 * rate)
    state = {"cursor": 0, "done_at": None}
    lock = threading.Lock()

    def body() -> bytes:
        with lock:
            if state["cursor"] < len(curve):
                state["cursor"] += 1
            n = state["cursor"]
            if n >= len(curve) and state["done_at"] is None:
                state["done_at"] = time.monotonic()
        lines = [
            f"hypersearch_trainer_position {start + n}",
            f"hypersearch_trainer_train_examples_total {examples_per_window * n}",
            f"hypersearch_trainer_done {1 if n >= len(curve) else 0}",
        ]
        for i in range(n):
            lines.append(
                f'hypersearch_trainer_window_metric{{window="{start + i}",metric="logloss"}} '
                f"{curve[i]!r}"
            )
            lines.append(f'hypersearch_trainer_window_examples{{window="{start + i}"}} 100')
        return ("\n".join(lines) + "\n").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = body()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        (os.environ.get("HS_METRICS_HOST", "127.0.0.1"), int(os.environ["HS_METRICS_PORT"])),
        Handler,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    linger = float(os.environ.get("HS_METRICS_LINGER", "5"))
    while True:
        time.sleep(0.05)
        done_at = state["done_at"]
        if done_at is not None and time.monotonic() - float(done_at) >= linger:
            sys.exit(0)


if __name__ == "__main__":
    main()
