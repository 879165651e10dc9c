"""The pod template becomes a local command; devices come from the environment or nvidia-smi."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypersearch.local.command import TemplateError, build_command
from hypersearch.local.devices import cuda_devices
from hypersearch.local.process import TrialProcess
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


def test_env_paths_in_pod_volumes_are_left_to_the_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """manifests/examples/quickstart.yaml mounts the data claim at /data and sets
    HS_PREPARED_DATA=/data/prepared: locally there is no volume, so the entry is left out and
    the runner's default (or the shell's value) applies; other values are kept."""
    doc = fake_manifest("cmd")
    c = doc["spec"]["trialTemplate"]["spec"]["containers"][0]
    c["volumeMounts"] = [{"name": "data", "mountPath": "/data/"}]
    doc["spec"]["trialTemplate"]["spec"]["volumes"] = [
        {"name": "data", "persistentVolumeClaim": {"claimName": "hypersearch-data"}}
    ]
    c["env"] += [
        {"name": "HS_PREPARED_DATA", "value": "/data/prepared"},
        {"name": "HS_DATA_CACHE", "value": "/data"},
        {"name": "OTHER", "value": "/database/x"},
        {"name": "REL", "value": "data/prepared"},
    ]
    env = build_command(parse(doc), {"x": 0.1}).env
    assert "HS_PREPARED_DATA" not in env and "HS_DATA_CACHE" not in env
    assert env["OTHER"] == "/database/x" and env["REL"] == "data/prepared"


def test_visible_devices_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert cuda_devices() == ["2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert cuda_devices() == []


def _script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{text}\n")
    path.chmod(0o755)
    return path


def _exit_code(proc: TrialProcess, timeout: float = 30.0) -> int | None:
    deadline = time.monotonic() + timeout
    while (rc := proc.poll()) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return rc


def _template_command(command: list[str], args: list[str]) -> Any:
    doc = fake_manifest("cmd")
    c = doc["spec"]["trialTemplate"]["spec"]["containers"][0]
    c["command"], c["args"] = command, args
    return parse(doc)


def test_a_bare_trainer_is_found_next_to_the_interpreter_without_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``venv/bin/hypersearch run`` with the venv not on PATH (pipx, a cache venv): the trial's
    ``hypersearch-trainer`` is the one beside the running interpreter, and it starts."""
    venv_bin = tmp_path / "venv" / "bin"
    trainer = _script(venv_bin / "hypersearch-trainer", 'echo "trainer ran: $*"')
    monkeypatch.setattr(sys, "executable", str(venv_bin / "python"))  # need not exist
    elsewhere = _script(tmp_path / "other" / "hypersearch-trainer", "echo wrong one")
    path = os.pathsep.join([str(elsewhere.parent), "/usr/bin", "/bin"])  # lacks the venv
    cmd = build_command(_template_command(["hypersearch-trainer"], ["--x={{params.x}}"]), {"x": 1})
    assert cmd.argv == [str(trainer), "--x=1"]
    proc = TrialProcess(cmd.argv, {"PATH": path}, tmp_path / "log.txt", None)
    assert _exit_code(proc) == 0
    assert "trainer ran: --x=1" in (tmp_path / "log.txt").read_text()


def test_a_bare_command_not_beside_the_interpreter_comes_from_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv" / "bin" / "python"))
    tool = _script(tmp_path / "tools" / "my-trainer", 'echo "from PATH: $*"')
    cmd = build_command(_template_command(["my-trainer"], ["a"]), {"x": 1})
    assert cmd.argv == ["my-trainer", "a"]  # looked up on the trial's PATH when it starts
    proc = TrialProcess(cmd.argv, {"PATH": str(tool.parent)}, tmp_path / "log.txt", None)
    assert _exit_code(proc) == 0
    assert "from PATH: a" in (tmp_path / "log.txt").read_text()
    # An explicit path is never second-guessed.
    cmd = build_command(_template_command([str(tool)], []), {"x": 1})
    assert cmd.argv == [str(tool)]
