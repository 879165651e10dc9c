"""The local command of a trial: the pod template's first container, as a process.

The same manifest runs in the cluster and here, so the container's ``command``/``args``/``env``
are the whole contract; ``{{params.NAME}}`` in args is replaced by the parameter's value.
"""

from __future__ import annotations

import os
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
    for item in c.get("env") or []:
        name = item.get("name")
        if not name:
            raise TemplateError("trialTemplate container env entries need a name")
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
