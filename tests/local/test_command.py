"""The pod template becomes a local command; devices come from the environment or nvidia-smi."""

from __future__ import annotations

import sys

import pytest
from hypersearch.local.command import TemplateError, build_command
from hypersearch.local.devices import cuda_devices
from hypersearch.spec import parse

from tests.local.conftest import fake_manifest


def test_template_args_env_and_params() -> None:
    doc = fake_manifest("cmd")
    c = doc["spec"]["trialTemplate"]["spec"]["containers"][0]
    c["args"] = ["--x={{ params.x }}", "--fixed"]
    c["env"].append({"name": "WHO", "value": "x is {{params.x}}"})
    cmd = build_command(parse(doc), {"x": 0.25})
    assert cmd.argv[0] == sys.executable
    assert cmd.argv[-2:] == ["--x=0.25", "--fixed"]
    assert cmd.env["WHO"] == "x is 0.25"


def test_value_from_needs_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = fake_manifest("cmd")
    env = doc["spec"]["trialTemplate"]["spec"]["containers"][0]["env"]
    env.append({"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}})
    monkeypatch.delenv("TOKEN", raising=False)
    with pytest.raises(TemplateError, match="valueFrom"):
        build_command(parse(doc), {"x": 0.1})
    monkeypatch.setenv("TOKEN", "abc")
    assert build_command(parse(doc), {"x": 0.1}).env["TOKEN"] == "abc"


def test_visible_devices_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert cuda_devices() == ["2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert cuda_devices() == []
