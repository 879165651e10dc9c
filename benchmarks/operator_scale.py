"""One operator driving N concurrent lightweight trials on the real test control plane.

Each trial is a stdlib-only process (no trainer, no http.server: a socket loop, ~4 MB each) that
serves what the reference trainer serves (trainer_image/hypersearch_trainer/exporter.py): the
same metric names, HELP/TYPE lines, sorted labels and float formatting; ``window_metric``
(logloss and auc) and ``window_examples`` for ``stratum="all"`` and each of --strata strata, for
its last --keep-windows completed windows only (the exporter's KEEP_WINDOWS = 64), so a body at
8 strata is ~150 KB and 1,781 lines, as the real one. A trial advances one window every --step
seconds, the operator scrapes every --interval seconds.

Measured over --cycles control cycles once every trial runs (after --settle cycles): operator
CPU seconds, Kubernetes API requests (operator's own counter) and round wall time per cycle
(mean, and the share of rounds within 5 s from the round histogram), the operator's peak RSS
(VmHWM), etcd's own write volume per cycle (``etcd_disk_wal_write_bytes_total``: every writer
of the cluster, the node agent's pod statuses included) beside the request bodies the API server
received for the operator's resources (``apiserver_request_body_size_bytes``, trials and
hypersearches). Then the trials run to the end of the stream (the stopping rule stops losers at
the rungs) and every Trial object is read: the largest, in bytes of its JSON. Also the time
from a trial crossing a rung to its pod receiving SIGTERM, measured by the trial itself.

Baseline, in the same run against the same N endpoints (while the operator runs): a naive
sequential scrape (one urllib GET after another) in this process, and the CPU a full
``parse_report`` of such a body takes (on a sample of the bodies).

Run: HYPERSEARCH_K8S_BIN=... python benchmarks/operator_scale.py [--trials 1000] [--windows 365]
     [--strata 8] [--interval 10] [--step 1] [--cycles 6]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml
from kubernetes import client

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "operator"))

from hypersearch.scrape import parse_report  # noqa: E402
from hypersearch.spec.model import MetricsSpec  # noqa: E402

from tests.cluster import Cluster  # noqa: E402

LIGHT_TRIAL = r"""
import math, os, signal, socket, time
E = os.environ
go = os.path.join(E["BENCH_OUT"], "go")  # the clock starts once every trial runs
step, keep = float(E["BENCH_STEP"]), int(E["BENCH_KEEP"])
start, stop = int(E["HS_DATA_START"]), int(E["HS_DATA_STOP"])
total, nstrata = int(E["BENCH_WINDOWS"]), int(E["BENCH_STRATA"])
x = float(E["HS_PARAM_x"]); rungs = [float(r) for r in E["BENCH_RUNGS"].split(",")]
out = os.path.join(E["BENCH_OUT"], E["HS_TRIAL"] + ".json")
P = "hypersearch_trainer"
STRATA = ["all"] + ["s%d" % k for k in range(nstrata)]  # sorted as the exporter sorts them
SHARE = [k + 1 for k in range(nstrata)]
t0 = None
def pos():
    global t0
    if t0 is None:
        if not os.path.exists(go): return float(start)
        t0 = os.stat(go).st_mtime
    return max(float(start), min(float(stop), start + (time.time() - t0) / step))
def term(*_):
    p = pos()
    if t0 is None: os._exit(0)
    with open(out, "w") as f:
        f.write('{"crossed": [%s], "term": %r}' % (
            ",".join(repr(t0 + (r - start) * step) for r in rungs if r <= p), time.time()))
    os._exit(0)
signal.signal(signal.SIGTERM, term)
def g(v):  # prometheus_client's floatToGoString
    s = repr(float(v)); dot = s.find(".")
    if v > 0 and dot > 6:
        return "%s.%se+0%d" % (s[0], (s[1:dot] + s[dot + 1:]).rstrip("0."), dot - 1)
    return s
# Per-window lines, rendered once (a finished window never changes) and kept for the last
# `keep` windows only, as the reference trainer keeps its last 64 (exporter.KEEP_WINDOWS).
metric_lines, example_lines = {}, {}
def window(w):
    base = 0.5 + 0.1 * math.sin(w / 3) + (x - 0.3) ** 2
    m, e = [], []
    for k, s in enumerate(STRATA):
        n = 1000 if k == 0 else 1000 * SHARE[k - 1] // sum(SHARE)
        ll = base + (0.0 if k == 0 else 0.013 * k * math.cos(w / 7 + k))
        auc = 0.76 - 0.5 * (ll - 0.5) + 0.001 * math.sin(w + k)
        m.append('%s_window_metric{metric="logloss",stratum="%s",window="%d"} %s' % (P, s, w, g(ll)))
        m.append('%s_window_metric{metric="auc",stratum="%s",window="%d"} %s' % (P, s, w, g(auc)))
        e.append('%s_window_examples{stratum="%s",window="%d"} %s' % (P, s, w, g(n)))
    metric_lines[w], example_lines[w] = "\n".join(m), "\n".join(e)
def body():
    p = pos(); done = int(p)
    for w in range(max(start, done - keep), done):
        if w not in metric_lines: window(w)
    for w in [w for w in metric_lines if w < done - keep]:
        del metric_lines[w], example_lines[w]
    ws = sorted(metric_lines)
    scored = (done - start) * 1000.0
    lines = [
        "# HELP %s_position Data time reached, in windows (fractional)." % P,
        "# TYPE %s_position gauge" % P, "%s_position %s" % (P, g(p)),
        "# HELP %s_train_examples_total Examples trained on after sub-sampling (beside compute)." % P,
        "# TYPE %s_train_examples_total counter" % P,
        "%s_train_examples_total %s" % (P, g((p - start) * 1000.0)),
        "# HELP %s_cpu_seconds_total CPU-seconds (user+system) of the trainer's process tree since the run started: the cost." % P,
        "# TYPE %s_cpu_seconds_total counter" % P,
        "%s_cpu_seconds_total %s" % (P, g((p - start) * 0.5)),
        "# HELP %s_gpu_seconds_total Wall-seconds x GPUs in use since the run started (0 on CPU)." % P,
        "# TYPE %s_gpu_seconds_total counter" % P, "%s_gpu_seconds_total 0.0" % P,
        "# HELP %s_eval_loss Progressive-validation logloss: _sum of per-example losses, _count of examples." % P,
        "# TYPE %s_eval_loss summary" % P,
    ]
    for s in STRATA:
        lines.append('%s_eval_loss_count{stratum="%s"} %s' % (P, s, g(scored)))
        lines.append('%s_eval_loss_sum{stratum="%s"} %s' % (P, s, g(scored * 0.51)))
    lines += ["# HELP %s_eval_examples_total Examples scored by progressive validation." % P,
              "# TYPE %s_eval_examples_total counter" % P]
    lines += ['%s_eval_examples_total{stratum="%s"} %s' % (P, s, g(scored)) for s in STRATA]
    lines += ["# HELP %s_window_metric Exact metric of each recent completed window." % P,
              "# TYPE %s_window_metric gauge" % P]
    lines += [metric_lines[w] for w in ws]
    lines += ["# HELP %s_window_examples Eval examples of each recent completed window (strata weights)." % P,
              "# TYPE %s_window_examples gauge" % P]
    lines += [example_lines[w] for w in ws]
    lines += ["# HELP %s_windows_total Number of windows T in the stream." % P,
              "# TYPE %s_windows_total gauge" % P, "%s_windows_total %s" % (P, g(total)),
              "# HELP %s_done 1 once the run has finished its data." % P,
              "# TYPE %s_done gauge" % P, "%s_done %s" % (P, g(int(p >= stop)))]
    return ("\n".join(lines) + "\n").encode()
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((E["HS_METRICS_HOST"], int(E["HS_METRICS_PORT"]))); srv.listen(128)
while True:
    conn, _ = srv.accept()
    try:
        conn.settimeout(5.0); req = b""
        while b"\r\n\r\n" not in req:
            chunk = conn.recv(4096)
            if not chunk: break
            req += chunk
        if req:
            b = body()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; "
                         b"charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                         % len(b) + b)
    except OSError:
        pass
    finally:
        conn.close()
"""


def search(args: argparse.Namespace, out: Path, rungs: list[float]) -> dict[str, Any]:
    n = args.trials
    return {
        "apiVersion": "hypersearch.dev/v1alpha1",
        "kind": "HyperSearch",
        "metadata": {"name": "scale"},
        "spec": {
            "objective": {"evaluationWindows": 2},
            "stream": {"windows": args.windows},
            "parameters": [{"name": "x", "type": "double", "min": 0.0, "max": 1.0}],
            "trials": n,
            "parallelism": n,
            "maxFailedTrials": n,
            "stage1": {"stopping": {"rule": args.rule, "rungs": rungs, "eta": 2,
                                    "minCohort": max(2, n // 5), "compareWindows": 2}},
            "stage2": {"topK": 1},
            "metrics": {"intervalSeconds": args.interval, "timeoutSeconds": 5, "maxFailures": 6},
            "trialTemplate": {"spec": {"containers": [{
                "name": "trial", "image": "none",
                "command": [sys.executable, "-S", "-c", LIGHT_TRIAL],
                "env": [{"name": "BENCH_STEP", "value": str(args.step)},
                        {"name": "BENCH_OUT", "value": str(out)},
                        {"name": "BENCH_KEEP", "value": str(args.keep_windows)},
                        {"name": "BENCH_WINDOWS", "value": str(args.windows)},
                        {"name": "BENCH_STRATA", "value": str(args.strata)},
                        {"name": "BENCH_RUNGS", "value": ",".join(map(str, rungs))}],
            }]}},
        },
    }  # fmt: skip


def proc_stat(pid: int) -> tuple[float, float, float]:
    """CPU seconds, RSS and peak RSS (MiB) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = Path(f"/proc/{pid}/status").read_text()
    kib = {k: int(v.split()[0]) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.*)$", status, re.M)}
    return cpu, kib.get("VmRSS", 0) / 1024, kib.get("VmHWM", 0) / 1024


def mem_available_gib() -> float:
    m = re.search(r"^MemAvailable:\s+(\d+)", Path("/proc/meminfo").read_text(), re.M)
    return int(m.group(1)) / 2**20 if m else float("nan")


def prom_sum(text: str, name: str, **labels: str | tuple[str, ...]) -> float:
    """Sum of the samples called ``name`` whose labels match (a tuple: any of its values)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line[len(name) : len(name) + 1] not in ("{", " "):
            continue
        head, _, value = line.rpartition(" ")
        got = dict(re.findall(r'(\w+)="([^"]*)"', head))
        if all(got.get(k) in ((v,) if isinstance(v, str) else v) for k, v in labels.items()):
            total += float(value)
    return total


@dataclass
class Sample:
    """Cumulative counters at one moment."""

    t: float
    cpu: float
    rss: float
    api: float
    rounds: float
    round_sum: float
    round_le5: float
    scrape_sum: float
    wal_bytes: float
    puts: float
    op_body_bytes: float
    op_writes: float
    by_verb: dict[str, float] = field(default_factory=dict)
    others: dict[str, float] = field(default_factory=dict)  # CPU seconds of the cluster's parts


def sample(
    op_pid: int,
    port: int,
    etcd_port: int,
    api: client.ApiClient,
    server: str,
    others: dict[str, int],
) -> Sample:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    verbs = dict(re.findall(r'hypersearch_operator_api_requests_total\{verb="(\w+)"\} (\S+)', text))
    etcd = urllib.request.urlopen(f"http://127.0.0.1:{etcd_port}/metrics", timeout=10).read()
    apis = api.rest_client.pool_manager.request("GET", f"{server}/metrics").data.decode()
    ours = ("trials", "hypersearches")
    writes = ("create", "patch", "update")  # the API server's body-size verbs
    cpu, rss, _ = proc_stat(op_pid)
    return Sample(
        t=time.monotonic(),
        cpu=cpu,
        rss=rss,
        api=sum(float(v) for v in verbs.values()),
        rounds=prom_sum(text, "hypersearch_operator_round_seconds_count"),
        round_sum=prom_sum(text, "hypersearch_operator_round_seconds_sum"),
        round_le5=prom_sum(text, "hypersearch_operator_round_seconds_bucket", le="5.0"),
        scrape_sum=prom_sum(text, "hypersearch_operator_scrape_seconds_sum"),
        wal_bytes=prom_sum(etcd.decode(), "etcd_disk_wal_write_bytes_total"),
        puts=prom_sum(etcd.decode(), "etcd_mvcc_put_total"),
        op_body_bytes=prom_sum(
            apis, "apiserver_request_body_size_bytes_sum", resource=ours, verb=writes
        ),
        op_writes=prom_sum(
            apis, "apiserver_request_body_size_bytes_count", resource=ours, verb=writes
        ),
        by_verb={k: float(v) for k, v in verbs.items()},
        others={name: proc_stat(pid)[0] for name, pid in others.items()},
    )


def naive_scrape(urls: list[str]) -> tuple[float, float, list[bytes]]:
    """Wall and CPU seconds of scraping every URL one after another (the baseline)."""
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    bodies = []
    for u in urls:
        with contextlib.suppress(OSError):
            bodies.append(urllib.request.urlopen(u, timeout=5).read())
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return time.monotonic() - t0, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), bodies


def parse_cpu(bodies: list[bytes], count: int = 40) -> float:
    """CPU seconds of one full ``parse_report`` of a body (mean over a sample)."""
    picked = [b.decode() for b in bodies[:: max(1, len(bodies) // count)][:count]]
    if not picked:
        return float("nan")
    t0 = time.process_time()
    for text in picked:
        with contextlib.suppress(Exception):
            parse_report(text, MetricsSpec(), "logloss")
    return (time.process_time() - t0) / len(picked)


def has_hole(trial: dict[str, Any]) -> bool:
    """Whether a Trial's record misses windows between two it holds (see encode_windows)."""
    windows = ((trial.get("status") or {}).get("record") or {}).get("windows")
    return isinstance(windows, dict) and len(windows.get("runs") or []) > 1


def list_trials(custom: client.CustomObjectsApi, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        more: dict[str, Any] = {"_continue": token} if token else {}
        page = cast(
            dict[str, Any],
            custom.list_namespaced_custom_object(
                "hypersearch.dev", "v1alpha1", ns, "trials", limit=100, **more
            ),
        )
        items += page["items"]
        token = page["metadata"].get("continue")
        if not token:
            return items


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--windows", type=int, default=365, help="windows in the stream")
    ap.add_argument("--strata", type=int, default=8, help="strata besides 'all' (0: none)")
    ap.add_argument("--keep-windows", type=int, default=64, help="recent windows served")
    ap.add_argument("--interval", type=float, default=10.0, help="scrape interval (seconds)")
    ap.add_argument("--step", type=float, default=1.0, help="seconds per window of a trial")
    ap.add_argument("--settle", type=int, default=2, help="cycles after the start, unmeasured")
    ap.add_argument("--cycles", type=int, default=6, help="measured cycles once all run")
    ap.add_argument("--rule", default="performance", help="stage-1 stopping rule")
    ap.add_argument(
        "--rungs", default="0.35,0.65", help="rungs as fractions of --windows (comma-separated)"
    )
    ap.add_argument("--no-finish", action="store_true", help="stop after the measured cycles")
    ap.add_argument(
        "--agent-poll",
        type=float,
        default=1.0,
        help="seconds between the test node agent's looks at each pod (its default 0.1 s: 1,000 "
        "pod threads took both cores)",
    )
    ap.add_argument(
        "--operator-args",
        default="",
        help="extra flags of the operator, e.g. --no-leader-election (space-separated)",
    )
    ap.add_argument(
        "--operator-src",
        default=str(REPO / "operator"),
        help="the operator package's parent directory (e.g. a worktree of an older commit)",
    )
    args = ap.parse_args()
    n = args.trials
    rungs = [float(round(float(f) * args.windows)) for f in args.rungs.split(",")]
    out = Path(tempfile.mkdtemp(prefix="hs-scale-"))
    port = 18000 + os.getpid() % 1000
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"{started}: {n} trials x {args.windows} windows x {args.strata} strata, interval "
          f"{args.interval:g}s, step {args.step:g}s/window, rungs {rungs}; load "
          f"{os.getloadavg()[0]:.1f}, {mem_available_gib():.1f} GiB available, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    os.environ["HYPERSEARCH_AGENT_POLL_SECONDS"] = str(args.agent_poll)
    nodes = [f"node-{i}:cpu=640,memory=2560Gi,pods={n + 50}" for i in range(2)]
    result: dict[str, Any] = {"args": vars(args), "started": started}
    with Cluster(nodes=nodes) as cluster, cluster.api_client() as api:
        ext = client.ApiextensionsV1Api(api)
        for path in sorted((REPO / "manifests" / "crds").glob("*.yaml")):
            ext.create_custom_resource_definition(yaml.safe_load(path.read_text()))
        time.sleep(3)
        ns = cluster.create_namespace("scale")
        log = open(out / "operator.log", "wb")  # noqa: SIM115
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([args.operator_src, str(REPO)])
        op = subprocess.Popen(
            [sys.executable, "-m", "hypersearch.kube", "--kubeconfig", str(cluster.kubeconfig),
             "-n", ns, "--metrics-port", str(port), "--metrics-host", "127.0.0.1",
             *args.operator_args.split()],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env,
        )  # fmt: skip
        custom = client.CustomObjectsApi(api)
        core = client.CoreV1Api(api)

        others = {k: p.pid for k, p in cluster.control_plane.procs.items()}
        if cluster.agent is not None:
            others["node agent"] = cluster.agent.pid

        def snap() -> Sample:
            etcd_port = cluster.control_plane.etcd_port
            return sample(op.pid, port, etcd_port, api, cluster.server, others)

        try:
            time.sleep(5)
            custom.create_namespaced_custom_object(
                "hypersearch.dev", "v1alpha1", ns, "hypersearches", search(args, out, rungs)
            )
            t_start = time.monotonic()

            def running() -> list[str]:
                pods = core.list_namespaced_pod(ns).items
                return [
                    f"http://{p.status.pod_ip}:9100/metrics"
                    for p in pods
                    if p.status and p.status.phase == "Running" and p.status.pod_ip
                ]

            urls = running()
            while len(urls) < n and time.monotonic() - t_start < 600 + n:
                time.sleep(5)
                urls = running()
                print(f"  {len(urls)}/{n} running, {mem_available_gib():.1f} GiB available")
            ramp = time.monotonic() - t_start
            print(f"{len(urls)}/{n} trials running after {ramp:.0f}s")
            result.update(running=len(urls), ramp_seconds=ramp)
            time.sleep(5)  # the operator scrapes each new pod once before the clocks start
            (out / "go").touch()
            time.sleep(args.settle * args.interval)
            samples = [snap()]
            for _ in range(args.cycles):
                time.sleep(args.interval)
                samples.append(snap())
                s0, s1 = samples[-2], samples[-1]
                r = max(1.0, s1.rounds - s0.rounds)
                print(f"  cycle: {s1.rounds - s0.rounds:.0f} rounds, round "
                      f"{(s1.round_sum - s0.round_sum) / r:.2f}s (scrape "
                      f"{(s1.scrape_sum - s0.scrape_sum) / r:.2f}s), CPU "
                      f"{(s1.cpu - s0.cpu) / r:.2f}s, {(s1.api - s0.api) / r:.0f} API requests, "
                      f"RSS {s1.rss:.0f} MiB, etcd WAL {(s1.wal_bytes - s0.wal_bytes) / r / 1e6:.2f} MB, "
                      f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
            a, b = samples[0], samples[-1]
            rounds = max(1.0, b.rounds - a.rounds)
            per_cycle = [
                (s1.round_sum - s0.round_sum) / max(1.0, s1.rounds - s0.rounds)
                for s0, s1 in itertools.pairwise(samples)
            ]
            result["measured"] = {
                "rounds": rounds,
                "seconds": b.t - a.t,
                "cpu_per_cycle": (b.cpu - a.cpu) / rounds,
                "api_per_cycle": (b.api - a.api) / rounds,
                "api_by_verb": {
                    k: (b.by_verb.get(k, 0) - a.by_verb.get(k, 0)) / rounds for k in b.by_verb
                },
                "round_mean": (b.round_sum - a.round_sum) / rounds,
                "round_max_cycle_mean": max(per_cycle),
                "rounds_within_5s": (b.round_le5 - a.round_le5) / rounds,
                "scrape_mean": (b.scrape_sum - a.scrape_sum) / rounds,
                "etcd_wal_bytes_per_cycle": (b.wal_bytes - a.wal_bytes) / rounds,
                "etcd_puts_per_cycle": (b.puts - a.puts) / rounds,
                "operator_body_bytes_per_cycle": (b.op_body_bytes - a.op_body_bytes) / rounds,
                "operator_writes_per_cycle": (b.op_writes - a.op_writes) / rounds,
                "rss_mib": b.rss,
                "others_cpu_per_cycle": {
                    k: (b.others[k] - a.others.get(k, 0.0)) / rounds for k in b.others
                },
                "load": os.getloadavg()[0],
            }
            # The baseline, against the same endpoints, bodies at full size (the operator runs).
            base_wall, base_cpu, bodies = naive_scrape(urls)
            result["baseline"] = {
                "endpoints": len(urls),
                "answered": len(bodies),
                "wall": base_wall,
                "cpu": base_cpu,
                "body_bytes": max((len(x) for x in bodies), default=0),
                "parse_cpu_per_body": parse_cpu(bodies),
            }
            del bodies
            if not args.no_finish:
                # Survivors run to the end of the stream; losers are stopped at the rungs.
                deadline = time.monotonic() + args.windows * args.step + 6 * args.interval + 60
                while time.monotonic() < deadline:
                    time.sleep(10)
                    trials = list_trials(custom, ns)
                    live = [t for t in trials if (t.get("status") or {}).get("state") == "Running"]
                    print(f"  {len(live)} trials running, operator RSS "
                          f"{proc_stat(op.pid)[1]:.0f} MiB")  # fmt: skip
                    if not live:
                        break
            trials = list_trials(custom, ns)
            sizes = sorted(len(json.dumps(t, separators=(",", ":"))) for t in trials)
            largest = max(trials, key=lambda t: len(json.dumps(t, separators=(",", ":"))))
            status = largest.get("status") or {}
            result["trials"] = {
                "count": len(trials),
                "largest_bytes": sizes[-1] if sizes else 0,
                "median_bytes": sizes[len(sizes) // 2] if sizes else 0,
                "largest_record_bytes": len(json.dumps(status.get("record"))),
                "largest_position": status.get("position"),
                # Records with a hole: windows a trainer no longer served when next scraped (a
                # round longer than --keep-windows x --step loses windows).
                "with_holes": sum(1 for t in trials if has_hole(t)),
                "states": {
                    s: sum(1 for t in trials if (t.get("status") or {}).get("state") == s)
                    for s in {(t.get("status") or {}).get("state") for t in trials}
                },
            }
            _, _, peak = proc_stat(op.pid)
            result["peak_rss_mib"] = peak
            stopped = {
                t["metadata"]["name"]
                for t in trials
                if (t.get("status") or {}).get("state") == "Stopped"
            }
            latencies = []
            for f in out.glob("scale-*.json"):
                with contextlib.suppress(ValueError):
                    rec = json.loads(f.read_text())
                    if f.stem in stopped and rec["crossed"]:
                        latencies.append(rec["term"] - max(rec["crossed"]))
            latencies.sort()
        finally:
            op.terminate()
            op.wait(30)
            log.close()
    report(result, latencies, args)
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(f"operator log and result.json: {out}")
    return 0


def report(r: dict[str, Any], latencies: list[float], args: argparse.Namespace) -> None:
    n, m, b = args.trials, r["measured"], r["baseline"]
    print(f"\noperator, {n} trials x {args.windows} windows x {args.strata} strata, interval "
          f"{args.interval:g}s, {args.step:g}s per window; {m['rounds']:.0f} cycles measured "
          f"(load {m['load']:.1f}); all running after {r['ramp_seconds']:.0f}s")  # fmt: skip
    # Figures are per round; a round longer than the interval covers several intervals.
    per_interval = m["rounds"] * args.interval / m["seconds"]
    print(f"  rounds: {m['rounds']:.0f} in {m['seconds']:.0f}s ({per_interval:.2f} a "
          f"{args.interval:g}s interval); figures below per round")  # fmt: skip
    print(f"  CPU seconds per cycle:   {m['cpu_per_cycle']:.2f}  "
          f"({1000 * m['cpu_per_cycle'] / n:.2f} ms/trial; "
          f"{m['cpu_per_cycle'] * per_interval:.2f} per {args.interval:g}s)")  # fmt: skip
    print(f"  API requests per cycle:  {m['api_per_cycle']:.0f}  {m['api_by_verb']}")
    print(f"  round wall time:         mean {m['round_mean']:.2f}s (scrape {m['scrape_mean']:.2f}s), "
          f"worst cycle {m['round_max_cycle_mean']:.2f}s, "
          f"{100 * m['rounds_within_5s']:.0f}% of rounds <= 5 s (target <= 5 s)")  # fmt: skip
    print(f"  peak RSS:                {r['peak_rss_mib']:.0f} MiB (target <= 1024)")
    t = r.get("trials") or {}
    print(f"  largest Trial:           {t.get('largest_bytes', 0) / 1024:.1f} KiB JSON "
          f"(record {t.get('largest_record_bytes', 0) / 1024:.1f} KiB, position "
          f"{t.get('largest_position')}; median {t.get('median_bytes', 0) / 1024:.1f} KiB; "
          f"target <= 64 KiB); states {t.get('states')}; records with a hole: "
          f"{t.get('with_holes')}")  # fmt: skip
    print(f"  etcd WAL writes:         {m['etcd_wal_bytes_per_cycle'] / 1e6:.2f} MB per cycle "
          f"({m['etcd_puts_per_cycle']:.0f} puts; the whole cluster)")  # fmt: skip
    print(f"  operator write bodies:   {m['operator_body_bytes_per_cycle'] / 1e6:.2f} MB per cycle "
          f"in {m['operator_writes_per_cycle']:.0f} PATCH/POST (API server's count)")  # fmt: skip
    print(
        "  CPU per cycle of the rest: "
        + ", ".join(f"{k} {v:.2f}s" for k, v in m["others_cpu_per_cycle"].items())
    )
    print(f"baseline (same run, same {b['endpoints']} endpoints, {b['body_bytes'] / 1e3:.0f} KB "
          f"bodies): naive sequential scrape wall {b['wall']:.2f}s, CPU {b['cpu']:.2f}s; a full "
          f"parse_report {1000 * b['parse_cpu_per_body']:.1f} ms CPU a body")  # fmt: skip
    naive_cpu = b["cpu"] + b["parse_cpu_per_body"] * b["answered"]
    print(f"ratios: round wall / naive scrape wall = {m['round_mean'] / b['wall']:.2f}; "
          f"operator CPU per cycle / naive scrape CPU = {m['cpu_per_cycle'] / b['cpu']:.2f}, "
          f"/ naive scrape + full parse CPU = {m['cpu_per_cycle'] / naive_cpu:.2f}")  # fmt: skip
    if latencies:

        def pct(q: float) -> float:
            return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

        print(f"rung crossing -> SIGTERM (stopped trials: {len(latencies)}): "
              f"median {pct(0.5):.1f}s, p90 {pct(0.9):.1f}s, max {latencies[-1]:.1f}s")  # fmt: skip
    else:
        print("no trial was stopped in the measured time")


if __name__ == "__main__":
    sys.exit(main())
