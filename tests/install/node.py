"""The real node of the install tests: images from scripts/build-images.sh, a kubelet with
containerd and runc from scripts/real-node.sh, joined to a test control plane of its own.

Everything here fails loudly: a missing tool, a failed build or a node that never turns Ready
raises, so the tests using it fail (nothing is skipped). docs/testing.md ("Images and a real
node") describes the node and what each workaround is for.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client

from tests.cluster.cluster import REPO_ROOT, Cluster

NODE = "hs-node"
NODE_DIR = Path(os.environ.get("HYPERSEARCH_NODE_DIR", "/tmp/hypersearch-node"))
# Machine-wide, whatever the node's directory: two nodes would share the bridge and cgroups.
NODE_LOCK = Path("/tmp/hypersearch-real-node.lock")
CACHE = Path(os.environ.get("HYPERSEARCH_CACHE", Path.home() / ".cache" / "hypersearch"))
T = TypeVar("T")


def run(
    argv: Sequence[str],
    timeout: float,
    *,
    env: dict[str, str] | None = None,
    input: str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Runs a command; with check, a failure or timeout raises with its output's tail."""
    try:
        result = subprocess.run(
            list(argv),
            env=env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO_ROOT,
        )
    except subprocess.TimeoutExpired as e:
        out = (e.stderr or b"")[-4000:] if isinstance(e.stderr, bytes) else (e.stderr or "")
        raise AssertionError(f"{' '.join(argv)}: no result after {timeout:.0f}s\n{out}") from e
    except FileNotFoundError as e:
        raise AssertionError(f"{argv[0]} not found (scripts/install-test-deps.sh)") from e
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {result.returncode}:\n"
            f"{result.stderr[-6000:]}{result.stdout[-2000:]}"
        )
    return result


def wait_for(predicate: Callable[[], T], timeout: float, what: str, every: float = 1.0) -> T:
    """Polls predicate until truthy; raises naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Timings:
    """Seconds spent in each part of the set-up, printed at the end of the session."""

    parts: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            self.parts[name] = round(time.monotonic() - began, 1)


@dataclass
class Images:
    """Image references as the node knows them (localhost/hypersearch/NAME:KEY), and each
    image's ID (its config digest, what the kubelet reports as a container's imageID)."""

    operator: str
    trainer: str
    archives: list[Path]
    ids: dict[str, str] = field(default_factory=dict)

    def assert_runs(self, name: str, status: dict[str, Any]) -> None:
        """A container status shows the built image NAME. By ID: the kubelet reports as the
        status's image whichever of the image's tags containerd lists first (the content key
        or ``:dev``), so the name alone would depend on how the key sorts."""
        assert status.get("imageID", "").endswith(self.ids[name]), (name, self.ids, status)
        names = (getattr(self, name), f"localhost/hypersearch/{name}:dev")
        assert status.get("image") in names, (names, status)


def archive_image_id(archive: Path) -> str:
    """The image ID (config digest) of a docker-archive, from its manifest.json."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None, f"{archive} has no manifest.json"
        (entry,) = json.load(member)
    return "sha256:" + str(entry["Config"]).removesuffix(".json")


def build_images(timings: Timings) -> Images:
    """scripts/build-images.sh operator trainer --archive: free when cached by content hash."""
    with timings.measure("images (scripts/build-images.sh operator trainer --archive)"):
        out = run(
            ["bash", "scripts/build-images.sh", "operator", "trainer", "--archive"], timeout=3600
        ).stdout
    refs = dict(
        (m.group(1), m.group(0))
        for m in re.finditer(r"^localhost/hypersearch/(\w+):([0-9a-f]+)$", out, re.M)
    )
    assert set(refs) == {"operator", "trainer"}, f"build-images.sh printed {out!r}"
    archives = [CACHE / "images" / f"{n}-{refs[n].rsplit(':', 1)[1]}.tar" for n in sorted(refs)]
    for a in archives:
        assert a.is_file(), f"build-images.sh --archive wrote no {a}"
    ids = {n: archive_image_id(a) for n, a in zip(sorted(refs), archives, strict=True)}
    return Images(operator=refs["operator"], trainer=refs["trainer"], archives=archives, ids=ids)


@contextmanager
def node_lock(timeout: float) -> Iterator[None]:
    """One real node per machine (host-wide cgroups and bridge): a session waits its turn."""
    with open(NODE_LOCK, "w") as f:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"{NODE_LOCK} held for {timeout:.0f}s by another session's real node"
                    ) from None
                time.sleep(5)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class RealNode:
    """scripts/real-node.sh's node joined to `cluster`, with the images loaded."""

    def __init__(self, cluster: Cluster, images: Images, timings: Timings) -> None:
        self.cluster = cluster
        self.images = images
        self.timings = timings
        self.script = ["bash", str(REPO_ROOT / "scripts" / "real-node.sh")]
        self.bin_dir = Path("")
        self.is_up = False

    # -- lifecycle -----------------------------------------------------------------------

    def up(self) -> None:
        assert os.geteuid() == 0, "the real node (kubelet, containerd) needs root"
        with self.timings.measure("kubelet + kubectl (real-node.sh bin)"):
            out = run([*self.script, "bin"], timeout=3600).stdout.strip()
        self.bin_dir = Path(out.splitlines()[-1])
        with self.timings.measure("node up (containerd, kubelet, Ready)"):
            self.is_up = True
            run([*self.script, "up", str(self.cluster.kubeconfig)], timeout=600)
        with self.timings.measure("image import into containerd"):
            for archive in self.images.archives:
                run([*self.script, "load", str(archive)], timeout=1800)

    def down(self) -> None:
        if self.is_up:
            run([*self.script, "down"], timeout=300)
            self.is_up = False

    # -- tools ---------------------------------------------------------------------------

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        """The pinned kubectl (built with the kubelet) against the node's cluster."""
        return run(
            [str(self.bin_dir / "kubectl"), *args],
            timeout=timeout,
            env=self.cluster.env(),
            input=input,
            check=check,
        )

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def ctr(self, *args: str) -> list[str]:
        sock = NODE_DIR / "containerd" / "containerd.sock"
        out = run(["ctr", "-a", str(sock), "-n", "k8s.io", *args], timeout=60).stdout
        return out.split()

    @property
    def api_port(self) -> str:
        return self.cluster.server.rsplit(":", 1)[1]

    # -- checks --------------------------------------------------------------------------

    def pods_on_node(self) -> list[str]:
        with self.cluster.api_client() as api:
            pods = client.CoreV1Api(api).list_pod_for_all_namespaces(
                field_selector=f"spec.nodeName={NODE}"
            )
        return [f"{p.metadata.namespace}/{p.metadata.name}" for p in pods.items]

    def pod_mounts(self) -> list[str]:
        """Mounts the kubelet made for pods (volumes, e.g. tokens and emptyDirs)."""
        root = f"{NODE_DIR}/kubelet/root/pods/"
        with open("/proc/self/mounts") as f:
            return [line.split()[1] for line in f if line.split()[1].startswith(root)]

    def leftovers(self) -> dict[str, list[str]]:
        """What pods left on the node: pods, containerd containers and tasks, volume mounts."""
        found = {
            "pods": self.pods_on_node(),
            "containers": self.ctr("containers", "ls", "-q"),
            "tasks": self.ctr("tasks", "ls", "-q"),
            "mounts": self.pod_mounts(),
        }
        return {k: v for k, v in found.items() if v}

    def wait_clean(self, timeout: float) -> None:
        """Waits until no pod, container, task or pod mount is left (the kubelet removes a
        deleted pod's containers in its next cleanup pass, so this can take a minute)."""
        last: dict[str, list[str]] = {}

        def clean() -> bool:
            nonlocal last
            last = self.leftovers()
            return not last

        try:
            wait_for(clean, timeout, "the node to be empty", every=3)
        except AssertionError as e:
            raise AssertionError(f"{e}; left: {last}") from None
