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

from hypersearch.spec.model import ParamValue, SearchSpec
from hypersearch.spec.semantic import PARAM_REFERENCE

# Runs when a template has no command: the reference trainer, with this interpreter.
DEFAULT_COMMAND = (sys.executable, "-m", "hypersearch_trainer")


class TemplateError(ValueError):
    """The trial template cannot be run as a local process."""


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


def _substitute(arg: str, params: dict[str, ParamValue]) -> str:
    def value(m: Any) -> str:
        name = m.group(1)
        if name not in params:
            raise TemplateError(f"args reference {{{{params.{name}}}}}, not a parameter")
        return str(params[name])

    return PARAM_REFERENCE.sub(value, arg)


def build_command(spec: SearchSpec, params: dict[str, ParamValue]) -> LocalCommand:
    """argv, template env and working directory for one trial (env excludes the protocol)."""
    c = _container(spec)
    command = [str(x) for x in c.get("command") or []]
    args = [_substitute(str(x), params) for x in c.get("args") or []]
    if not command:
        command = list(DEFAULT_COMMAND)
    elif command[0] in ("python", "python3"):
        # The image's python is this machine's interpreter (the venv that has the trainer).
        command[0] = sys.executable
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
        env[name] = _substitute(str(item.get("value", "")), params)
    cwd = c.get("workingDir")
    if cwd is not None and not os.path.isdir(str(cwd)):
        cwd = None  # an image path; locally the runner's directory stands in for it
    return LocalCommand(command + args, env, str(cwd) if cwd else None)
