"""The local command of a trial: the pod template's first container, as a process.

The same manifest runs in the cluster and here, so the container's ``command``/``args``/``env``
are the whole contract; ``{{params.NAME}}`` in args is replaced by the parameter's value.
Volumes are the cluster's: an env value that is a path inside one of the container's
``volumeMounts`` (e.g. ``HS_PREPARED_DATA=/data/prepared`` on a claim mounted at ``/data``) is
left out here, so the machine's own default (or the shell's value) stands in for it.
"""

from __future__ import annotations

import os
import posixpath
import shlex
import sys
from dataclasses import dataclass
from typing import Any

from hypersearch.monitor.protocol import TemplateError, substitute
from hypersearch.spec.model import ParamValue, SearchSpec

# Runs when a template has no command: the reference trainer, with this interpreter.
DEFAULT_COMMAND = (sys.executable, "-m", "hypersearch_trainer")
PYTHON_NAMES = ("python", "python3")


@dataclass(frozen=True)
class LocalCommand:
    argv: list[str]
    env: dict[str, str]
    cwd: str | None

    def describe(self) -> str:
        return shlex.join(self.argv)


def _container(spec: SearchSpec) -> dict[str, Any]:
    pod = spec.trial_template.get("spec", spec.trial_template)
    containers = pod.get("containers") if isinstance(pod, dict) else None
    if not containers:
        return {}
    first = containers[0]
    if not isinstance(first, dict):
        raise TemplateError("trialTemplate.spec.containers[0] must be a mapping")
    return first


def resolve_executable(name: str) -> str:
    """A bare command (no ``/``) from this installation first, else from ``PATH``.

    The scripts of the environment running HyperSearch (``hypersearch-trainer``, ...) sit next
    to its interpreter, in the venv's or pipx's ``bin/``, which need not be on ``PATH``: run as
    ``~/.cache/hypersearch/venv/bin/hypersearch run``, every trial would otherwise fail with "No
    such file or directory". The interpreter's path is not resolved, so a venv whose ``python``
    links to the system one still finds its own scripts. A name found there is returned as a
    path; any other is returned unchanged for the process start to look up on the trial's
    ``PATH``.
    """
    if not name or "/" in name or not sys.executable:
        return name
    here = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    return name


def _mount_paths(container: dict[str, Any]) -> list[str]:
    mounts = container.get("volumeMounts") or []
    return [
        posixpath.normpath(str(m["mountPath"]))
        for m in mounts
        if isinstance(m, dict) and str(m.get("mountPath", "")).startswith("/")
    ]


def in_volume(value: str, mount_paths: list[str]) -> bool:
    """Whether ``value`` is an absolute path at or under one of ``mount_paths``."""
    if not value.startswith("/"):
        return False
    path = posixpath.normpath(value)
    return any(path == m or path.startswith(m.rstrip("/") + "/") for m in mount_paths)


def build_command(spec: SearchSpec, params: dict[str, ParamValue]) -> LocalCommand:
    """argv, template env and working directory for one trial (env excludes the protocol)."""
    c = _container(spec)
    command = [str(x) for x in c.get("command") or []]
    args = [substitute(str(x), params) for x in c.get("args") or []]
    if not command:
        command = list(DEFAULT_COMMAND)
    elif command[0] in PYTHON_NAMES:
        # The image's python is this machine's interpreter (the venv that has the trainer).
        command[0] = sys.executable
    else:
        command[0] = resolve_executable(command[0])
    env: dict[str, str] = {}
    mounts = _mount_paths(c)
    for item in c.get("env") or []:
        name = item.get("name")
        if not name:
            raise TemplateError("trialTemplate container env entries need a name")
        if in_volume(str(item.get("value", "")), mounts):
            continue  # a path in a pod volume: the machine's default or the shell's stands in
        if "valueFrom" in item:
            if name in os.environ:
                env[name] = os.environ[name]
                continue
            raise TemplateError(
                f"env {name!r} uses valueFrom, which only a cluster can resolve; "
                f"set {name} in your shell to run locally"
            )
        env[name] = substitute(str(item.get("value", "")), params)
    cwd = c.get("workingDir")
    if cwd is not None and not os.path.isdir(str(cwd)):
        cwd = None  # an image path; locally the runner's directory stands in for it
    return LocalCommand(command + args, env, str(cwd) if cwd else None)
