"""The helm path runs the flights-3m search on the data claim, with the real images on a real
kubelet: `helm install` of charts/hypersearch, `kubectl apply -f manifests/examples/data.yaml`
(the claim `hypersearch-data` and the Job that fetches and prepares flights-3m into it), then
manifests/examples/quickstart.yaml reduced, whose trials mount the claim at /data and read the
prepared data (HS_PREPARED_DATA=/data/prepared).

As the cluster administrator, the test provides what a provisioner would: a static
PersistentVolume, a hostPath directory on the one node (ReadWriteMany, honestly here: every pod
runs on that node), owned by the trainer's uid 10001 (hostPath volumes ignore fsGroup) and
pre-bound to the claim; the real kube-controller-manager binds them.

Substituted, and why (docs/testing.md, "Install tests"):
- the Job's fetch container: its public Node image cannot run here (no test pulls from a public
  registry), so it runs the locally built trainer image (a shell, no npm), and the volume already
  holds flights-3m.parquet, copied by the administrator from the host's
  ~/.cache/hypersearch/data, which the test first fetches with the real `npm pack` (`python -m
  hypersearch_trainer.datasets fetch flights-3m`: the package and member the Job's script
  names). The Job's script runs and takes its "already there" branch (its log is checked);
  only its `npm pack` + `tar` never run in a cluster here;
- every image: the locally built trainer image with imagePullPolicy Never (the Job's two
  containers, the trial container);
- the search: quickstart.yaml with counts only changed: 3 trials run at once, stage 2 trains
  the predicted best 1 (14, 2 and 2 in the file), so its 10%-rate trials and one full-data run
  finish in about a minute on a loaded 2-core machine.

Observed: the Job completes and its log prints the prepared directory, which the administrator
finds complete on the volume (a manifest, 181 window shards); every trial pod mounts the claim
with HS_PREPARED_DATA=/data/prepared; the search Succeeds; from the host, inotify sees the
trials open the manifest and every window's shard of that directory after the Job finished
(OpenWatch), and no second preparation appears (same parquet, trainer code and seed: the same
fingerprint). Then everything is deleted and the node must be empty.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.cluster import REPO_ROOT
from tests.install.node import RealNode, Timings, free_port, run, wait_for
from tests.install.steps import (
    CLEAN_S,
    OpenWatch,
    helm_install,
    helm_uninstall,
    run_search,
    trainer_image,
)

DATA = REPO_ROOT / "manifests" / "examples" / "data.yaml"
QUICKSTART = REPO_ROOT / "manifests" / "examples" / "quickstart.yaml"
CLAIM, JOB = "hypersearch-data", "hypersearch-data-flights-3m"
TRAINER_UID = 10001
WINDOWS = 181
JOB_S = 600
pytestmark = pytest.mark.timeout(7200)


def fetched_parquet() -> Path:
    """The host's flights-3m.parquet, fetched with npm once (a missing npm fails the test)."""
    out = run([sys.executable, "-m", "hypersearch_trainer.datasets", "fetch", "flights-3m"], 900)
    path = Path(out.stdout.strip().splitlines()[-1])
    assert path.is_file(), out.stdout
    return path


def data_volume(node: RealNode, namespace: str, directory: Path) -> str:
    """The administrator's static PersistentVolume for the claim; returns its name."""
    name = f"hs-data-{namespace}"
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteMany"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "claimRef": {"namespace": namespace, "name": CLAIM},
            "hostPath": {"path": str(directory), "type": "Directory"},
        },
    }
    node.kubectl("create", "-f", "-", input=yaml.safe_dump(pv))
    return name


def pod_logs(namespace: str, pod: dict[str, Any]) -> dict[str, str]:
    """A pod's container logs as the kubelet wrote them (`kubectl logs` cannot reach this
    kubelet: docs/testing.md, item 8)."""
    meta = pod["metadata"]
    where = Path("/var/log/pods") / f"{namespace}_{meta['name']}_{meta['uid']}"
    return {
        d.name: "".join(f.read_text(errors="replace") for f in sorted(d.glob("*.log")))
        for d in sorted(where.glob("*"))
    }


def run_data_job(node: RealNode, namespace: str) -> dict[str, str]:
    """data.yaml with the local trainer image, applied; waits for the Job to complete and
    returns its pod's logs by container."""
    docs = list(yaml.safe_load_all(DATA.read_text()))
    assert [d["kind"] for d in docs] == ["PersistentVolumeClaim", "Job"], DATA
    pod = docs[1]["spec"]["template"]["spec"]
    for c in pod["initContainers"] + pod["containers"]:
        c["image"] = node.images.trainer
        c["imagePullPolicy"] = "Never"
    node.kubectl("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump_all(docs))

    def pods() -> list[dict[str, Any]]:
        got = node.kubectl_json("-n", namespace, "get", "pods", "-l", f"job-name={JOB}")
        items: list[dict[str, Any]] = got["items"]
        return items

    def complete() -> bool:
        job = node.kubectl_json("-n", namespace, "get", "job", JOB)
        conditions = {c["type"]: c for c in job.get("status", {}).get("conditions", [])}
        if conditions.get("Failed", {}).get("status") == "True":
            logs = [pod_logs(namespace, p) for p in pods()]
            raise AssertionError(f"job {JOB} failed: {conditions['Failed']}\nlogs: {logs}")
        return conditions.get("Complete", {}).get("status") == "True"

    wait_for(complete, JOB_S, f"job {namespace}/{JOB} complete", every=2)
    (done,) = [p for p in pods() if p["status"].get("phase") == "Succeeded"]
    return pod_logs(namespace, done)


def test_helm_install_runs_the_flights_search_on_the_data_claim(
    real_node: RealNode, install_timings: Timings
) -> None:
    node = real_node
    parquet = fetched_parquet()
    helm_ns, release, port = "hypersearch-helm", "hypersearch", free_port()
    helm_install(node, helm_ns, release, port)
    ns = f"e2e-data-{uuid.uuid4().hex[:6]}"
    volume = Path(tempfile.mkdtemp(prefix="hypersearch-pv-"))
    pv = ""
    passed = False
    try:
        os.chown(volume, TRAINER_UID, TRAINER_UID)
        os.chmod(volume, 0o755)
        shutil.copy2(parquet, volume / "flights-3m.parquet")  # what the fetch step would write
        os.chown(volume / "flights-3m.parquet", TRAINER_UID, TRAINER_UID)
        node.kubectl("create", "namespace", ns)
        pv = data_volume(node, ns, volume)
        check_data_search(node, install_timings, ns, volume, port)
        passed = True
    finally:
        # The search's namespace first, while the operator runs (its finalizer); after a
        # failure, best effort, so that test_install.py does not meet this operator.
        wait = 300 if passed else 60
        for kind, name in (("namespace", ns), ("pv", pv)):
            if name:
                node.kubectl(
                    "delete", kind, name, f"--timeout={wait}s", timeout=wait + 30, check=passed
                )
        if passed:
            helm_uninstall(node, helm_ns, release)
        else:
            node.cluster.helm("uninstall", release, "-n", helm_ns, "--wait", check=False)
        shutil.rmtree(volume, ignore_errors=True)
    node.wait_clean(CLEAN_S)


def check_data_search(
    node: RealNode, install_timings: Timings, ns: str, volume: Path, port: int
) -> None:
    """The data Job, then the reduced quickstart on the claim (the module's docstring)."""
    began = time.monotonic()
    logs = run_data_job(node, ns)
    install_timings.parts["data.yaml Job (fetch skipped, prepare)"] = round(
        time.monotonic() - began, 1
    )
    phase = node.kubectl_json("-n", ns, "get", "pvc", CLAIM)["status"]["phase"]
    assert phase == "Bound", phase
    assert "flights-3m.parquet is there: not fetched again" in logs["fetch"], logs
    (manifest,) = (volume / "prepared").glob("flights-3m-*/manifest.json")
    prepared = manifest.parent
    assert f"/data/prepared/{prepared.name}" in logs["prepare"], logs
    shards = {p.name for p in prepared.glob("w*.arrow")}
    assert len(shards) == WINDOWS, sorted(shards)[:5]

    watch = OpenWatch(prepared)  # from here on, only the trials open these files
    try:
        search = yaml.safe_load(QUICKSTART.read_text())
        spec = search["spec"]
        spec["trials"] = spec["parallelism"] = 3
        spec["stage2"].update(topK=1, parallelism=1)
        trainer_image(node, search)
        began = time.monotonic()
        pods = run_search(node, ns, search, port)
        install_timings.parts["flights-3m search (3 trials, top 1)"] = round(
            time.monotonic() - began, 1
        )
        watch.poll()
    finally:
        watch.close()
    for name, pod in pods.items():
        claims = [
            v["persistentVolumeClaim"]["claimName"]
            for v in pod["spec"].get("volumes", [])
            if "persistentVolumeClaim" in v
        ]
        assert claims == [CLAIM], (name, pod["spec"].get("volumes"))
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        assert env.get("HS_PREPARED_DATA") == "/data/prepared", (name, env)
    assert not watch.overflowed, "inotify queue overflowed"
    opened = {n for n in watch.opened if n.endswith(".arrow")}
    assert opened == shards, f"trials opened {len(opened)} of {len(shards)} shards"
    assert watch.opened["manifest.json"], dict(watch.opened)
    again = list((volume / "prepared").glob("*/manifest.json"))
    assert again == [manifest], f"a second preparation appeared: {again}"
    print(f"trials opened all {len(opened)} shards of {prepared.name}; {len(pods)} pods")
