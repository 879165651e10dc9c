"""``hypersearch report --cluster``: the report of a HyperSearch read back from the real test
cluster, rebuilt the way a restarting operator rebuilds its engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypersearch.engine.observations import decode_windows
from kubernetes import client

from tests.cluster import Cluster
from tests.operator.conftest import (
    REPO,
    create_search,
    service_account_kubeconfig,
    tiny_search,
    trials,
    wait_phase,
)

PLOTS = ("trajectories.png", "predicted_vs_observed.png", "cost.png")


def report(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hypersearch", "report", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_report_from_a_search_in_the_cluster(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, operator_factory: Any, tmp_path: Path
) -> None:
    operator_factory()
    create_search(k8s, namespace, tiny_search("tiny"))
    search = wait_phase(cluster, k8s, namespace, "tiny", ("Succeeded", "Failed", "Invalid"))
    status = search["status"]
    assert status["phase"] == "Succeeded", status.get("reason")

    # Default output directory: ./results/<namespace>-<name>, relative to where it runs.
    run = report("--cluster", f"{namespace}/tiny", "--kubeconfig", str(cluster.kubeconfig),
                 cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = tmp_path / "results" / f"{namespace}-tiny"
    assert str(out.relative_to(tmp_path) / "report.html") in run.stdout, run.stdout
    assert "Succeeded" in run.stdout and status["promoted"][0] in run.stdout, run.stdout

    html = (out / "report.html").read_text()
    for name in PLOTS:
        png = out / "plots" / name
        assert png.stat().st_size > 10_000, (name, png.stat().st_size)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"src='plots/{name}'" in html
    assert "results.json" in html

    results = json.loads((out / "results.json").read_text())
    assert results["winner"] == status["winner"]
    assert results["promoted"] == status["promoted"]
    assert results["phase"] == "Succeeded"
    assert results["cluster"]["namespace"] == namespace
    children = {t["metadata"]["name"]: t for t in trials(k8s, namespace)}
    by_name = {t["name"]: t for t in results["trials"]}
    assert set(by_name) == set(children)
    for name, child in children.items():
        record = child["status"]["record"]
        assert by_name[name]["state"] == record["state"]
        assert len(by_name[name]["trajectory"]) == len(decode_windows(record["windows"]))
    assert any(t["state"] == "Stopped" and t["stopPosition"] for t in results["trials"])
    # The reference trainer exports its CPU-seconds: every run's compute is its own count.
    assert status["cost"]["computeSource"] == {"trainer": len(children)}, status["cost"]
    assert results["cost"]["computeSource"] == status["cost"]["computeSource"]
    assert results["cost"]["reduction"] == status["cost"]["reduction"] is not None
    assert results["cost"]["examplesReduction"] == status["cost"]["examplesReduction"]
    assert results["cost"]["resourceSeconds"] == status["cost"]["resourceSeconds"]
    assert [r["name"] for r in results["stage2"]] == [status["winner"]]
    assert results["elapsedSeconds"] > 0
    assert any(e[2] == "Succeeded" for e in results["events"]), results["events"]

    # --out, and the results directory mode re-renders what --cluster wrote.
    other = tmp_path / "elsewhere"
    run = report("--cluster", f"{namespace}/tiny", "--kubeconfig", str(cluster.kubeconfig),
                 "--out", str(other))  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads((other / "results.json").read_text())["winner"] == status["winner"]
    run = report(str(other))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(other / "report.html")


def test_report_errors_name_the_object(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, crds: None, tmp_path: Path
) -> None:
    kubeconfig = str(cluster.kubeconfig)

    run = report("--cluster", f"{namespace}/nope", "--kubeconfig", kubeconfig, cwd=tmp_path)
    assert run.returncode == 1
    assert f"HyperSearch {namespace}/nope not found" in run.stderr, run.stderr
    assert not (tmp_path / "results").exists()

    run = report("--cluster", "no-such-ns-4711/tiny", "--kubeconfig", kubeconfig, cwd=tmp_path)
    assert run.returncode == 1
    assert "HyperSearch no-such-ns-4711/tiny not found" in run.stderr, run.stderr
    assert "namespace 'no-such-ns-4711' does not exist" in run.stderr, run.stderr

    # Created, but no operator has started any trial.
    create_search(k8s, namespace, tiny_search("idle"))
    run = report("--cluster", f"{namespace}/idle", "--kubeconfig", kubeconfig, cwd=tmp_path)
    assert run.returncode == 1
    assert f"HyperSearch {namespace}/idle has no trials yet" in run.stderr, run.stderr

    # A user without any role in the namespace.
    client.CoreV1Api(k8s).create_namespaced_service_account(
        namespace, {"metadata": {"name": "nobody"}}
    )
    sa = service_account_kubeconfig(cluster, k8s, namespace, "nobody", tmp_path / "sa.kubeconfig")
    run = report("--cluster", f"{namespace}/idle", "--kubeconfig", str(sa), cwd=tmp_path)
    assert run.returncode == 1
    assert f"no access to HyperSearch {namespace}/idle (403 Forbidden)" in run.stderr, run.stderr

    run = report("--kubeconfig", kubeconfig, cwd=tmp_path)
    assert run.returncode == 2 and "--cluster NAMESPACE/NAME" in run.stderr
