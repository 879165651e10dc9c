"""A node agent standing in for the kubelet: it runs pods as local processes.

It registers Nodes with the requested capacity, watches pods bound to them (kube-scheduler
binds; with --bind the agent binds unscheduled pods itself), runs each container's command
and args with the pod's environment, each pod on its own loopback address, and reports
status like a kubelet: Pending, Running, then Succeeded or Failed with exit codes, honouring
restartPolicy. On deletion it sends SIGTERM, waits the grace period, sends SIGKILL, and
then removes the pod. Images are not run, with one exception that mirrors a kubelet exactly:
an image whose registry host is under the reserved `.invalid` domain (RFC 2606: it never
resolves) is never pulled, and the container waits in ErrImagePull, then ImagePullBackOff.

Run: python -m tests.cluster agent --kubeconfig K --pod-dir D --node NAME:cpu=8,memory=32Gi
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from tests.cluster import podenv
from tests.cluster.procs import signal_group, spawn

log = logging.getLogger("node-agent")
Obj = dict[str, Any]
AGENT_LABEL = "hypersearch.test/node-agent"
# How often each pod's thread looks at its processes (deletions wake it at once). 0.1 s suits
# tests; with hundreds of pods, 1000 threads waking 10 times a second took both cores of the
# development machine (benchmarks/operator_scale.py sets it higher).
POLL_SECONDS = float(os.environ.get("HYPERSEARCH_AGENT_POLL_SECONDS", "0.1"))


def now() -> str:
    """RFC 3339 timestamp as the API stores them."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class NodeSpec:
    """A Node to register: its name and capacity (cpu, memory, pods, nvidia.com/gpu...)."""

    name: str
    capacity: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> NodeSpec:
        """NAME:cpu=8,memory=32Gi,nvidia.com/gpu=4"""
        name, _, rest = text.partition(":")
        capacity = {"cpu": "8", "memory": "32Gi", "pods": "110", "nvidia.com/gpu": "0"}
        for item in filter(None, rest.split(",")):
            key, _, value = item.partition("=")
            capacity[key.strip()] = value.strip()
        return cls(name=name, capacity=capacity)


def _busy_second_octets() -> set[int]:
    """Second octets of 127/8 addresses with a socket on them now (another session's pods)."""
    busy: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/udp"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local = line.split()[1].split(":")[0]  # little-endian hex IPv4, e.g. 0100007F
            if len(local) == 8 and local[6:8] == "7F":
                busy.add(int(local[4:6], 16))
    return busy


class PodIPs:
    """Hands out loopback addresses from a /16 under 127/8, one per running pod.

    Pods bind their own address, so many of them can listen on the same port. The /16 is
    random per agent so that clusters of concurrent test sessions don't collide.
    """

    def __init__(self, prefix: str | None = None) -> None:
        if prefix is None:
            busy = _busy_second_octets()
            free = [o for o in range(100, 200) if o not in busy] or list(range(100, 200))
            prefix = f"127.{random.choice(free)}"
        self.network = ipaddress.ip_network(f"{prefix}.0.0/16")
        self._free = [
            str(ip) for ip in self.network.hosts() if str(ip).rsplit(".", 1)[1] not in ("0", "255")
        ]
        self._used: set[str] = set()
        self._lock = threading.Lock()

    def take(self) -> str:
        with self._lock:
            ip = self._free.pop(0)
            self._used.add(ip)
            return ip

    def give(self, ip: str) -> None:
        with self._lock:
            if ip in self._used:
                self._used.discard(ip)
                self._free.append(ip)


_NO_STATE: Obj = {"waiting": None, "running": None, "terminated": None}


def unpullable(image: str) -> bool:
    """An image from a registry under `.invalid`, a name that never resolves (RFC 2606)."""
    first = image.split("/")[0] if "/" in image else ""
    return ("." in first or ":" in first) and first.split(":")[0].endswith(".invalid")


@dataclass
class Container:
    """One container's process and the status the agent reports for it."""

    spec: Obj
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: str | None = None
    state: Obj = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: Obj = field(default_factory=dict)
    next_start: float = 0.0
    pulls: int = 0  # failed pulls of an image that cannot be pulled

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    def status(self, pod_uid: str) -> Obj:
        image = self.spec.get("image") or "none"
        return {
            "name": self.name,
            "image": image,
            "imageID": f"hypersearch-agent://{image}",
            "containerID": f"hypersearch-agent://{pod_uid}/{self.name}/{self.restarts}",
            # Patches merge maps, so the states a container is no longer in are nulled.
            "state": {**_NO_STATE, **self.state},
            "lastState": {**_NO_STATE, **self.last_state},
            "ready": "running" in self.state,
            "started": "running" in self.state,
            "restartCount": self.restarts,
        }


class PodRunner(threading.Thread):
    """Owns one pod: starts its processes, restarts them per policy, reports its status."""

    def __init__(self, agent: Agent, pod: Obj) -> None:
        meta = pod["metadata"]
        super().__init__(name=f"pod-{meta['namespace']}/{meta['name']}", daemon=True)
        self.agent = agent
        self.pod = pod
        self.ns: str = meta["namespace"]
        self.pod_name: str = meta["name"]
        self.uid: str = meta["uid"]
        self.policy: str = pod["spec"].get("restartPolicy", "Always")
        self.delete_grace: float | None = None
        self.wake = threading.Event()
        self.ip = ""
        self.start_time = now()
        self.dir = agent.pod_dir / f"{self.ns}_{self.pod_name}_{self.uid[:8]}"
        self.inits = [Container(c) for c in pod["spec"].get("initContainers", [])]
        self.mains = [Container(c) for c in pod["spec"]["containers"]]
        self.last_status: Obj | None = None

    # -- requests from the agent's watch loop --------------------------------------------

    def request_delete(self, grace: float) -> None:
        if self.delete_grace is None or grace < self.delete_grace:
            self.delete_grace = grace
        self.wake.set()

    # -- the pod's life ------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._run()
        except Exception:
            log.exception("pod %s/%s: runner crashed", self.ns, self.pod_name)
            self._kill_all(0)
        finally:
            if self.ip:
                self.agent.ips.give(self.ip)
            self.agent.runner_done(self)

    def _run(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ip = self.agent.ips.take()
        self.pod.setdefault("status", {}).update(
            {"podIP": self.ip, "podIPs": [{"ip": self.ip}], "hostIP": "127.0.0.1"}
        )
        self.pod["status"]["hostIPs"] = [{"ip": "127.0.0.1"}]
        self._publish("Pending")
        for init in self.inits:
            while True:
                if self.delete_grace is not None:
                    return self._terminate()
                code = self._run_to_completion(init)
                if code is None:
                    return self._terminate()
                if code == 0:
                    break
                if self.policy == "Never":
                    return self._publish("Failed")
                init.restarts += 1
        while True:
            if self.delete_grace is not None:
                return self._terminate()
            self._tick_mains()
            phase = self._phase()
            self._publish(phase)
            if phase in ("Succeeded", "Failed"):
                return None
            self.wake.wait(POLL_SECONDS)
            self.wake.clear()

    def _run_to_completion(self, c: Container) -> int | None:
        """Runs an init container; None if the pod got deleted meanwhile."""
        while True:
            self._start(c)
            self._publish("Pending")
            if c.proc is not None or "terminated" in c.state:
                break
            # Its environment could not be built yet (e.g. a missing ConfigMap): retry.
            if self.delete_grace is not None:
                return None
            self.wake.wait(1.0)
            self.wake.clear()
        if c.proc is None:
            return int(c.state["terminated"]["exitCode"])
        while c.proc is not None and c.proc.poll() is None:
            if self.delete_grace is not None:
                return None
            self.wake.wait(POLL_SECONDS)
            self.wake.clear()
        self._reap(c)
        self._publish("Pending")
        return int(c.state.get("terminated", {}).get("exitCode", 1))

    def _tick_mains(self) -> None:
        """Starts containers that are due, reaps exited ones and schedules restarts."""
        for c in self.mains:
            if c.proc is None and "terminated" not in c.state and time.monotonic() >= c.next_start:
                self._start(c)
            elif c.proc is not None and c.proc.poll() is not None:
                self._reap(c)
                code = c.state["terminated"]["exitCode"]
                if self.policy == "Always" or (self.policy == "OnFailure" and code != 0):
                    # Kubelet-like crash-loop backoff, but short: tests wait on it.
                    delay = min(10.0, 0.5 * 2**c.restarts)
                    c.last_state = c.state
                    c.state = {"waiting": {"reason": "CrashLoopBackOff"}}
                    c.restarts += 1
                    c.next_start = time.monotonic() + delay

    def _phase(self) -> str:
        states = [c.state for c in self.mains]
        if any("running" in s or "waiting" in s for s in states):
            started = any(
                "running" in s or c.restarts for s, c in zip(states, self.mains, strict=True)
            )
            return "Running" if started else "Pending"
        codes = [s["terminated"]["exitCode"] for s in states]
        return "Succeeded" if all(code == 0 for code in codes) else "Failed"

    def _start(self, c: Container) -> None:
        image = str(c.spec.get("image") or "")
        if unpullable(image):  # as a kubelet reports it: the first error, then its back-off
            host = image.split("/")[0].split(":")[0]
            c.state = {
                "waiting": {
                    "reason": "ImagePullBackOff" if c.pulls else "ErrImagePull",
                    "message": f'Back-off pulling image "{image}"'
                    if c.pulls
                    else f'failed to pull image "{image}": dial tcp: lookup {host}: no such host',
                }
            }
            c.next_start = time.monotonic() + min(10.0, 2.0**c.pulls)
            c.pulls += 1
            return
        try:
            env = podenv.container_env(
                self.pod,
                c.spec,
                base=self.agent.base_env(self.pod_name),
                lookup=self.agent.lookup,
                node_allocatable=self.agent.allocatable(self.pod["spec"].get("nodeName", "")),
            )
            argv = podenv.container_argv(c.spec, env, self.agent.entrypoints)
        except (podenv.EnvError, ApiException) as e:
            c.state = {"waiting": {"reason": "CreateContainerConfigError", "message": str(e)}}
            c.next_start = time.monotonic() + 1.0
            log.warning("pod %s/%s container %s: %s", self.ns, self.pod_name, c.name, e)
            return
        workdir = c.spec.get("workingDir")
        cwd = Path(workdir) if workdir and Path(workdir).is_dir() else self.dir
        logfile = self.dir / f"{c.name}.log"
        with open(logfile, "ab") as f:
            f.write(f"--- start #{c.restarts} {now()}: {argv}\n".encode())
        try:
            c.proc = spawn(argv, logfile, env=env, cwd=cwd)
        except OSError as e:
            c.proc = None
            c.state = {
                "terminated": {
                    "exitCode": 128,
                    "reason": "StartError",
                    "message": str(e),
                    "startedAt": now(),
                    "finishedAt": now(),
                }
            }
            return
        c.started_at = now()
        c.state = {"running": {"startedAt": c.started_at}}
        log.info(
            "pod %s/%s container %s: pid %d on %s",
            self.ns,
            self.pod_name,
            c.name,
            c.proc.pid,
            self.ip,
        )

    def _reap(self, c: Container) -> None:
        assert c.proc is not None
        code = c.proc.wait()
        # Like a container runtime: a process killed by signal N exits with 128 + N.
        exit_code = 128 - code if code < 0 else code
        c.state = {
            "terminated": {
                "exitCode": exit_code,
                "reason": "Completed" if exit_code == 0 else "Error",
                "startedAt": c.started_at or now(),
                "finishedAt": now(),
            }
        }
        signal_group(c.proc, signal.SIGKILL)  # leftovers of the container's process group
        c.proc = None
        log.info("pod %s/%s container %s: exited %d", self.ns, self.pod_name, c.name, exit_code)

    def _kill_all(self, grace: float) -> None:
        """SIGTERM every running container, wait up to grace, then SIGKILL."""
        running = [c for c in self.inits + self.mains if c.proc is not None]
        for c in running:
            assert c.proc is not None
            signal_group(c.proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(
            c.proc is not None and c.proc.poll() is None for c in running
        ):
            time.sleep(0.05)
        for c in running:
            if c.proc is not None:
                signal_group(c.proc, signal.SIGKILL)
                self._reap(c)

    def _terminate(self) -> None:
        """Deletion: stop processes within the grace period, report, then remove the pod."""
        grace = self.delete_grace or 0.0
        log.info("pod %s/%s: deleting, grace %.1fs", self.ns, self.pod_name, grace)
        self._kill_all(grace)
        for c in self.inits + self.mains:
            if "terminated" not in c.state:
                c.state = {"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown"}}
        self._publish(self._phase())
        self.agent.finalize_delete(self.ns, self.pod_name, self.uid)

    # -- status --------------------------------------------------------------------------

    def _publish(self, phase: str) -> None:
        running = phase == "Running" and all("running" in c.state for c in self.mains)
        inits_done = all("terminated" in c.state for c in self.inits) and phase != "Pending"
        t = now()
        status: Obj = {
            "phase": phase,
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": self.ip,
            "podIPs": [{"ip": self.ip}],
            "startTime": self.start_time,
            "qosClass": self.pod.get("status", {}).get("qosClass", "BestEffort"),
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True"},
                {"type": "Initialized", "status": str(inits_done or not self.inits)},
                {"type": "ContainersReady", "status": str(running)},
                {"type": "Ready", "status": str(running)},
            ],
            "initContainerStatuses": [c.status(self.uid) for c in self.inits],
            "containerStatuses": [c.status(self.uid) for c in self.mains],
        }
        if status == self.last_status:
            return
        self.last_status = status
        body = json.loads(json.dumps({"status": status}))
        for cond in body["status"]["conditions"]:
            cond["lastTransitionTime"] = t
        try:
            self.agent.core.patch_namespaced_pod_status(self.pod_name, self.ns, body)
        except ApiException as e:
            if e.status != 404:
                log.warning("pod %s/%s: status update failed: %s", self.ns, self.pod_name, e.reason)


class Agent:
    """Registers the nodes and dispatches pod events to one PodRunner per pod."""

    def __init__(
        self,
        api: client.ApiClient,
        nodes: list[NodeSpec],
        pod_dir: Path,
        *,
        bind: bool = False,
        entrypoints: dict[str, str] | None = None,
        ip_prefix: str | None = None,
    ) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.nodes = {n.name: n for n in nodes}
        self.pod_dir = pod_dir
        self.bind = bind
        self.entrypoints = entrypoints or {}
        self.ips = PodIPs(ip_prefix)
        self.runners: dict[str, PodRunner] = {}
        self.finalized: set[str] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._next_node = 0
        host = api.configuration.host.rsplit(":", 1)
        self._service_env = {
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": host[1] if len(host) == 2 else "443",
        }

    # -- nodes ---------------------------------------------------------------------------

    def register_nodes(self) -> None:
        for spec in self.nodes.values():
            node = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": spec.name,
                    "labels": {
                        "kubernetes.io/hostname": spec.name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        AGENT_LABEL: "true",
                    },
                },
                "spec": {},
            }
            try:
                self.core.create_node(cast(Any, node))
            except ApiException as e:
                if e.status != 409:
                    raise
            t = now()
            status = {
                "capacity": spec.capacity,
                "allocatable": spec.capacity,
                "addresses": [
                    {"type": "InternalIP", "address": "127.0.0.1"},
                    {"type": "Hostname", "address": spec.name},
                ],
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "hypersearch node agent",
                        "lastHeartbeatTime": t,
                        "lastTransitionTime": t,
                    }
                ],
                "nodeInfo": {
                    "machineID": spec.name,
                    "systemUUID": spec.name,
                    "bootID": str(os.getpid()),
                    "kernelVersion": os.uname().release,
                    "osImage": "hypersearch node agent",
                    "containerRuntimeVersion": "hypersearch-agent://1",
                    "kubeletVersion": "v1.37.2",
                    "kubeProxyVersion": "",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                },
            }
            self.core.patch_node_status(spec.name, {"status": status})
            # The TaintNodesByCondition admission plugin marks new nodes not-ready; the node
            # lifecycle controller that would lift it is off, so lift it here.
            self.core.patch_node(spec.name, {"spec": {"taints": None}})
            log.info("node %s registered: %s", spec.name, spec.capacity)

    def allocatable(self, node: str) -> dict[str, str]:
        spec = self.nodes.get(node)
        return spec.capacity if spec else {}

    # -- helpers for runners -------------------------------------------------------------

    def base_env(self, pod_name: str) -> dict[str, str]:
        """The agent's own environment (PATH, the venv) plus what a kubelet always sets."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env.update(self._service_env)
        env["HOSTNAME"] = pod_name
        return env

    def lookup(self, kind: str, ns: str, name: str) -> dict[str, str] | None:
        try:
            if kind == "configmap":
                cm = self.core.read_namespaced_config_map(name, ns)
                return dict(cm.data or {})
            secret = self.core.read_namespaced_secret(name, ns)
            return podenv.decode_secret(secret.data)
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def finalize_delete(self, ns: str, name: str, uid: str) -> None:
        """The kubelet's last word on a deleted pod: remove it for good (grace 0)."""
        with self.lock:
            if uid in self.finalized:
                return
            self.finalized.add(uid)
        body = client.V1DeleteOptions(
            grace_period_seconds=0, preconditions=client.V1Preconditions(uid=uid)
        )
        try:
            self.core.delete_namespaced_pod(name, ns, body=body, grace_period_seconds=0)
        except ApiException as e:
            if e.status not in (404, 409):
                log.warning("pod %s/%s: final delete failed: %s", ns, name, e.reason)

    def runner_done(self, runner: PodRunner) -> None:
        with self.lock:
            if self.runners.get(runner.uid) is runner:
                del self.runners[runner.uid]

    # -- pod events ----------------------------------------------------------------------

    def handle(self, event_type: str, pod: Obj) -> None:
        meta = pod["metadata"]
        uid, ns, name = meta["uid"], meta["namespace"], meta["name"]
        node = pod["spec"].get("nodeName")
        if not node:
            if self.bind and event_type != "DELETED" and not meta.get("deletionTimestamp"):
                self._bind(pod)
            return
        if node not in self.nodes:
            return
        with self.lock:
            runner = self.runners.get(uid)
            seen = uid in self.finalized
        if event_type == "DELETED":
            if runner is not None:
                runner.request_delete(0)
            return
        if meta.get("deletionTimestamp"):
            if runner is not None:
                runner.request_delete(float(meta.get("deletionGracePeriodSeconds") or 0))
            elif not seen:
                self.finalize_delete(ns, name, uid)
            return
        if runner is not None or seen:
            return
        if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return  # finished before; nothing to run
        if pod.get("status", {}).get("containerStatuses"):
            return  # started by an earlier agent whose processes are gone with it
        runner = PodRunner(self, pod)
        with self.lock:
            self.runners[uid] = runner
        runner.start()

    def _bind(self, pod: Obj) -> None:
        """Without kube-scheduler: bind round-robin, ignoring resources."""
        names = sorted(self.nodes)
        node = names[self._next_node % len(names)]
        self._next_node += 1
        meta = pod["metadata"]
        target = client.V1Binding(
            metadata=client.V1ObjectMeta(name=meta["name"], uid=meta["uid"]),
            target=client.V1ObjectReference(kind="Node", name=node, api_version="v1"),
        )
        try:
            self.core.create_namespaced_binding(meta["namespace"], target, _preload_content=False)
        except ApiException as e:
            if e.status not in (404, 409):
                log.warning("bind %s/%s: %s", meta["namespace"], meta["name"], e.reason)

    def watch(self) -> None:
        """List then watch all pods, relisting when the watch expires (410 Gone)."""
        while not self.stopping.is_set():
            try:
                resp: Any = self.core.list_pod_for_all_namespaces(_preload_content=False)
                listing = json.loads(resp.data)
                for pod in listing["items"]:
                    self.handle("ADDED", pod)
                rv = listing["metadata"]["resourceVersion"]
                while not self.stopping.is_set():
                    rv = self._watch_from(rv)
                    if rv is None:
                        break
            except Exception as e:  # API hiccup or shutdown: relist after a moment
                if self.stopping.is_set():
                    return
                log.warning("watch failed (%s); relisting", e)
                time.sleep(0.5)

    def _watch_from(self, rv: str) -> str | None:
        """One watch request; returns the last resourceVersion, or None to relist."""
        resp: Any = self.core.list_pod_for_all_namespaces(
            watch=True,
            resource_version=rv,
            allow_watch_bookmarks=True,
            timeout_seconds=60,
            _preload_content=False,
        )
        try:
            for line in resp:
                if not line.strip():
                    continue
                event = json.loads(line)
                obj = event["object"]
                if event["type"] == "ERROR":
                    return None
                rv = obj["metadata"].get("resourceVersion", rv)
                if event["type"] != "BOOKMARK":
                    self.handle(event["type"], obj)
        finally:
            resp.release_conn()
        return rv

    def shutdown(self) -> None:
        """Agent exit: kill every pod's processes quickly (the cluster is going away)."""
        self.stopping.set()
        with self.lock:
            runners = list(self.runners.values())
        for r in runners:
            r.request_delete(2.0)
        for r in runners:
            r.join(timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--pod-dir", required=True, type=Path, help="pod scratch dirs and logs")
    parser.add_argument("--node", action="append", default=[], help="NAME:cpu=8,memory=32Gi,...")
    parser.add_argument("--bind", action="store_true", help="bind pods (no kube-scheduler)")
    parser.add_argument("--entrypoint", action="append", default=[], help="IMAGE=COMMAND")
    parser.add_argument("--ip-prefix", help="first two octets of pod IPs, e.g. 127.150")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(threadName)s %(message)s",
        stream=sys.stdout,
    )
    conf = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=args.kubeconfig, client_configuration=conf
    )
    conf.connection_pool_maxsize = 64
    api = client.ApiClient(conf)
    nodes = [NodeSpec.parse(n) for n in args.node] or [NodeSpec.parse("node-0")]
    entrypoints = dict(e.split("=", 1) for e in args.entrypoint)
    agent = Agent(
        api, nodes, args.pod_dir, bind=args.bind, entrypoints=entrypoints, ip_prefix=args.ip_prefix
    )

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping pods", signum)
        agent.shutdown()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    agent.register_nodes()
    log.info("agent ready: pod IPs from %s", agent.ips.network)
    sys.stdout.flush()
    agent.watch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
