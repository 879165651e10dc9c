"""The pinned helm binary lints, renders and installs a chart into the test cluster."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client

from tests.cluster import Cluster

CHART = """apiVersion: v2
name: probe
version: 0.1.0
kubeVersion: ">=1.30.0-0"
"""
TEMPLATE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cm
data:
  greeting: {{ .Values.greeting | quote }}
"""


def test_helm_install(
    cluster: Cluster, k8s: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    chart = tmp_path / "probe"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(CHART)
    (chart / "values.yaml").write_text("greeting: hello\n")
    (chart / "templates" / "cm.yaml").write_text(TEMPLATE)

    assert "1 chart(s) linted, 0 chart(s) failed" in cluster.helm("lint", str(chart)).stdout
    rendered = cluster.helm("template", "rel", str(chart), "--set", "greeting=hi").stdout
    assert 'greeting: "hi"' in rendered
    # kubeVersion in Chart.yaml is checked against the server: the version stamp matters.
    cluster.helm("install", "rel", str(chart), "-n", namespace, "--wait", "--timeout", "60s")
    cm = client.CoreV1Api(k8s).read_namespaced_config_map("rel-cm", namespace)
    assert cm.data == {"greeting": "hello"}
