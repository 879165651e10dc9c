"""Unit tests of the kubelet-like environment building (no cluster needed)."""

from decimal import Decimal

import pytest

from tests.cluster import podenv


def test_expand_known_unknown_and_escape() -> None:
    env = {"A": "1", "B": "two"}
    assert podenv.expand("$(A)-$(B)-$(C)-$$(A)", env) == "1-two-$(C)-$(A)"


@pytest.mark.parametrize(
    ("text", "value"),
    [("500m", Decimal("0.5")), ("2", Decimal(2)), ("1Gi", Decimal(2**30)), ("3k", Decimal(3000))],
)
def test_parse_quantity(text: str, value: Decimal) -> None:
    assert podenv.parse_quantity(text) == value


def test_env_order_downward_api_and_refs() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "x"}},
        "spec": {"nodeName": "node-0"},
        "status": {"podIP": "127.100.0.2"},
    }
    container = {
        "name": "c",
        "resources": {"limits": {"cpu": "1500m", "memory": "1Gi"}},
        "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
        "env": [
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "ADDR", "value": "$(IP):8080"},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {
                "name": "MEM_MI",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
            },
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
        ],
    }
    data = {("configmap", "cm"): {"k": "v"}, ("secret", "s"): {"pw": "hunter2"}}
    env = podenv.container_env(
        pod,
        container,
        base={"PATH": "/bin"},
        lookup=lambda kind, ns, name: data.get((kind, name)),
        node_allocatable={},
    )
    assert env["CM_k"] == "v"
    assert env["ADDR"] == "127.100.0.2:8080"
    assert env["APP"] == "x"
    assert env["CPU"] == "2"
    assert env["MEM_MI"] == "1024"
    assert env["PW"] == "hunter2"
    assert env["PATH"] == "/bin"


def test_missing_required_ref_is_an_error() -> None:
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {}, "status": {}}
    container = {
        "name": "c",
        "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}],
    }
    with pytest.raises(podenv.EnvError):
        podenv.container_env(pod, container, base={}, lookup=lambda *_: None, node_allocatable={})


def test_argv_expands_and_requires_a_command() -> None:
    env = {"PORT": "9000"}
    assert podenv.container_argv({"name": "c", "command": ["srv", "--port=$(PORT)"]}, env, {}) == [
        "srv",
        "--port=9000",
    ]
    entry = {"img:1": "python -m app"}
    assert podenv.container_argv({"name": "c", "image": "img:1", "args": ["x"]}, env, entry) == [
        "python",
        "-m",
        "app",
        "x",
    ]
    with pytest.raises(podenv.EnvError):
        podenv.container_argv({"name": "c", "image": "unknown"}, env, {})
