"""One operator driving N concurrent lightweight trials on the real test control plane.

Each trial is a stdlib-only process (no trainer) that serves the metrics protocol and advances
one window every --step seconds; the operator scrapes them every --interval seconds. Reported:
operator CPU seconds and Kubernetes API requests per control cycle, round duration, and the
time from a trial crossing a rung to its pod receiving SIGTERM (the stop), measured by the
trial itself. Baseline, measured in the same run against the same N endpoints: a naive
sequential scraper (one urllib GET after another) in this process.

Run: HYPERSEARCH_K8S_BIN=... python benchmarks/operator_scale.py [--trials 500] [--cycles 6]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.cluster import Cluster  # noqa: E402

LIGHT_TRIAL = r"""
import http.server, json, math, os, signal, sys, time
go = os.path.join(os.environ["BENCH_OUT"], "go")  # the clock starts once every trial runs
step = float(os.environ["BENCH_STEP"]); stop = int(os.environ["HS_DATA_STOP"])
x = float(os.environ["HS_PARAM_x"]); rungs = [float(r) for r in os.environ["BENCH_RUNGS"].split(",")]
out = os.path.join(os.environ["BENCH_OUT"], os.environ["HS_TRIAL"] + ".json")
t0 = None
def pos():
    global t0
    if t0 is None:
        if not os.path.exists(go): return 0.0
        t0 = os.stat(go).st_mtime
    return max(0.0, min(float(stop), (time.time() - t0) / step))
def term(*_):
    p = pos()
    if t0 is None: os._exit(0)
    with open(out, "w") as f:
        json.dump({"crossed": [t0 + r * step for r in rungs if r <= p], "term": time.time()}, f)
    os._exit(0)
signal.signal(signal.SIGTERM, term)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        p = pos()
        lines = ["hypersearch_trainer_position %f" % p,
                 "hypersearch_trainer_train_examples_total %f" % (p * 1000),
                 "hypersearch_trainer_done %d" % (p >= stop)]
        for w in range(int(p)):
            v = 0.5 + 0.1 * math.sin(w / 3) + (x - 0.3) ** 2
            lines.append('hypersearch_trainer_window_metric{window="%d",metric="logloss"} %f' % (w, v))
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer((os.environ["HS_METRICS_HOST"], int(os.environ["HS_METRICS_PORT"])), H).serve_forever()
"""


def search(n: int, interval: float, step: float, out: Path, rungs: list[float]) -> dict[str, Any]:
    return {
        "apiVersion": "hypersearch.dev/v1alpha1",
        "kind": "HyperSearch",
        "metadata": {"name": "scale"},
        "spec": {
            "objective": {"evaluationWindows": 2},
            "stream": {"windows": 40},
            "parameters": [{"name": "x", "type": "double", "min": 0.0, "max": 1.0}],
            "trials": n,
            "parallelism": n,
            "maxFailedTrials": n,
            "stage1": {"stopping": {"rule": "performance", "rungs": rungs, "eta": 2,
                                    "minCohort": max(2, n // 5), "compareWindows": 2}},
            "stage2": {"topK": 1},
            "metrics": {"intervalSeconds": interval, "timeoutSeconds": 5, "maxFailures": 6},
            "trialTemplate": {"spec": {"containers": [{
                "name": "trial", "image": "none",
                "command": [sys.executable, "-S", "-c", LIGHT_TRIAL],
                "env": [{"name": "BENCH_STEP", "value": str(step)},
                        {"name": "BENCH_OUT", "value": str(out)},
                        {"name": "BENCH_RUNGS", "value": ",".join(map(str, rungs))}],
            }]}},
        },
    }  # fmt: skip


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def operator_metrics(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out: dict[str, float] = {"api": 0.0}
    for line in text.splitlines():
        if line.startswith("hypersearch_operator_api_requests_total{"):
            out["api"] += float(line.rsplit(" ", 1)[1])
        m = re.match(r"hypersearch_operator_round_seconds_(count|sum) (\S+)", line)
        if m:
            out["rounds" if m.group(1) == "count" else "round_sum"] = float(m.group(2))
    return out


def naive_scrape(urls: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of scraping every URL one after another (the baseline)."""
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    for u in urls:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(u, timeout=5).read()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return time.monotonic() - t0, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=500)
    ap.add_argument("--interval", type=float, default=10.0)
    ap.add_argument("--step", type=float, default=4.0, help="seconds per window of a trial")
    ap.add_argument("--cycles", type=int, default=6, help="measured cycles after all run")
    args = ap.parse_args()
    n = args.trials
    rungs = [6.0, 10.0]
    out = Path(tempfile.mkdtemp(prefix="hs-scale-"))
    port = 18000 + os.getpid() % 1000
    nodes = [f"node-{i}:cpu=64,memory=256Gi,pods={n + 50}" for i in range(2)]
    with Cluster(nodes=nodes) as cluster, cluster.api_client() as api:
        ext = client.ApiextensionsV1Api(api)
        for path in sorted((REPO / "manifests" / "crds").glob("*.yaml")):
            ext.create_custom_resource_definition(yaml.safe_load(path.read_text()))
        time.sleep(3)
        ns = cluster.create_namespace("scale")
        log = open(out / "operator.log", "wb")  # noqa: SIM115
        op = subprocess.Popen(
            [sys.executable, "-m", "hypersearch.kube", "--kubeconfig", str(cluster.kubeconfig),
             "-n", ns, "--metrics-port", str(port), "--metrics-host", "127.0.0.1"],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
        try:
            time.sleep(5)
            client.CustomObjectsApi(api).create_namespaced_custom_object(
                "hypersearch.dev", "v1alpha1", ns, "hypersearches",
                search(n, args.interval, args.step, out, rungs),
            )  # fmt: skip
            core = client.CoreV1Api(api)
            t_start = time.monotonic()

            def running() -> list[str]:
                pods = core.list_namespaced_pod(ns).items
                return [
                    f"http://{p.status.pod_ip}:9100/metrics"
                    for p in pods
                    if p.status.phase == "Running" and p.status.pod_ip
                ]

            urls = running()
            while len(urls) < n and time.monotonic() - t_start < 600:
                time.sleep(2)
                urls = running()
            print(f"{len(urls)}/{n} trials running after {time.monotonic() - t_start:.0f}s")
            base_wall, base_cpu = naive_scrape(urls)
            time.sleep(2 * args.interval)  # steady state before the clocks start
            (out / "go").touch()
            m0, c0 = operator_metrics(port), cpu_seconds(op.pid)
            time.sleep(args.cycles * args.interval)
            m1, c1 = operator_metrics(port), cpu_seconds(op.pid)
            rounds = max(1.0, m1["rounds"] - m0["rounds"])
            cpu_cycle = (c1 - c0) / rounds
            api_cycle = (m1["api"] - m0["api"]) / rounds
            round_wall = (m1["round_sum"] - m0["round_sum"]) / rounds
            # Let the rungs be crossed and losers stopped, then collect stop latencies.
            deadline = time.monotonic() + max(rungs) * args.step + 3 * args.interval + 30
            while time.monotonic() < deadline:
                time.sleep(2)
            stopped = {
                t["metadata"]["name"]
                for t in client.CustomObjectsApi(api).list_namespaced_custom_object(
                    "hypersearch.dev", "v1alpha1", ns, "trials"
                )["items"]
                if (t.get("status") or {}).get("state") == "Stopped"
            }
            latencies = []
            for f in out.glob("scale-*.json"):
                rec = json.loads(f.read_text())
                if f.stem in stopped and rec["crossed"]:
                    latencies.append(rec["term"] - max(rec["crossed"]))
            latencies.sort()
        finally:
            op.terminate()
            op.wait(30)
            log.close()
    print(
        f"\noperator, {n} trials, scrape interval {args.interval:g}s, {rounds:.0f} cycles measured"
    )
    print(f"  CPU seconds per cycle:        {cpu_cycle:.3f}  ({1000 * cpu_cycle / n:.2f} ms/trial)")
    print(f"  API requests per cycle:       {api_cycle:.1f}  ({api_cycle / n:.3f} per trial)")
    print(f"  control round wall time:      {round_wall:.2f}s")
    print(f"baseline (same run, same {len(urls)} endpoints): naive sequential scrape")
    print(f"  wall {base_wall:.2f}s, CPU {base_cpu:.3f}s")
    print(
        f"ratios: round wall / naive scrape wall = {round_wall / base_wall:.2f}; "
        f"operator CPU per cycle / naive scrape CPU = {cpu_cycle / max(base_cpu, 1e-9):.2f}"
    )
    if latencies:
        pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
        print(
            f"rung crossing -> SIGTERM (stopped trials: {len(latencies)}): "
            f"median {pct(0.5):.1f}s, p90 {pct(0.9):.1f}s, max {latencies[-1]:.1f}s "
            f"(scrape interval {args.interval:g}s)"
        )
    else:
        print("no trial was stopped in the measured time")
    print(f"operator log: {out / 'operator.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
