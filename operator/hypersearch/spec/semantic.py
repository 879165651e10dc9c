"""Rules the OpenAPI schema cannot express (cross-field bounds, references between fields).

The operator reports these in an ``Invalid`` condition; ``hypersearch validate`` prints them. Each
rule appends a :class:`SpecError` naming the exact field, so every problem is reported at once.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

from hypersearch.spec.errors import SpecError

PARAM_REFERENCE = re.compile(r"\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
SEED_MIN, SEED_MAX = 0, 2**31 - 1  # every sampler, and the trainers' HS_SEED, take this range


def _parameter_errors(params: list[dict[str, Any]]) -> list[SpecError]:
    errors: list[SpecError] = []
    seen: dict[str, int] = {}
    for i, p in enumerate(params):
        at = f"spec.parameters[{i}]"
        name = p.get("name", "")
        if name in seen:
            errors.append(SpecError(f"{at}.name", f"duplicate of spec.parameters[{seen[name]}]"))
        seen.setdefault(name, i)
        kind = p.get("type")
        if kind == "categorical":
            values = p.get("values") or []
            if not values:
                errors.append(SpecError(f"{at}.values", "a categorical parameter needs values"))
            if len(set(values)) != len(values):
                errors.append(SpecError(f"{at}.values", "values must be unique"))
            for bound in ("min", "max", "step"):
                if bound in p:
                    errors.append(SpecError(f"{at}.{bound}", "not allowed for categorical"))
            if p.get("scale", "linear") != "linear":
                errors.append(SpecError(f"{at}.scale", "not allowed for categorical"))
            continue
        if "values" in p:
            errors.append(SpecError(f"{at}.values", f"only for categorical, not {kind}"))
        lo, hi = p.get("min"), p.get("max")
        for bound, value in (("min", lo), ("max", hi)):
            if value is None:
                errors.append(SpecError(f"{at}.{bound}", f"required for a {kind} parameter"))
            elif not math.isfinite(value):
                errors.append(SpecError(f"{at}.{bound}", "must be finite"))
            elif kind == "int" and value != int(value):
                errors.append(SpecError(f"{at}.{bound}", "must be a whole number for int"))
        if lo is None or hi is None:
            continue
        if lo >= hi:
            errors.append(SpecError(f"{at}.min", f"min ({lo}) must be less than max ({hi})"))
        if p.get("scale") == "log" and lo <= 0:
            errors.append(SpecError(f"{at}.min", f"log scale needs min > 0, got {lo}"))
        step = p.get("step")
        if step is not None and lo < hi and step > hi - lo:
            errors.append(SpecError(f"{at}.step", f"step {step} is wider than max - min"))
        if step is not None and kind == "int" and step != int(step):
            errors.append(SpecError(f"{at}.step", "must be a whole number for int"))
    return errors


def _data_errors(data: dict[str, Any], at: str, windows: int) -> list[SpecError]:
    errors: list[SpecError] = []
    start = data.get("start", 0)
    stop = data.get("stop")
    for name in ("rate", "evalRate"):  # NaN passes the schema's bounds (every comparison is false)
        value = data.get(name, 1.0)
        if not math.isfinite(value):
            errors.append(SpecError(f"{at}.{name}", f"must be a number in (0, 1], got {value}"))
    if start >= windows:
        errors.append(SpecError(f"{at}.start", f"{start} is past the stream's {windows} windows"))
    if stop is not None:
        if stop > windows:
            errors.append(SpecError(f"{at}.stop", f"{stop} is past the stream's {windows} windows"))
        if stop <= start:
            errors.append(SpecError(f"{at}.stop", f"stop ({stop}) must be after start ({start})"))
    return errors


def _stopping_errors(spec: dict[str, Any], windows: int) -> list[SpecError]:
    errors: list[SpecError] = []
    stage1 = spec.get("stage1", {})
    stopping = stage1.get("stopping", {})
    data = stage1.get("data", {})
    start = data.get("start", 0)
    stop = data.get("stop") or windows
    at = "spec.stage1.stopping"
    rungs = stopping.get("rungs") or []
    for i, rung in enumerate(rungs):
        if not start < rung <= stop:
            errors.append(
                SpecError(
                    f"{at}.rungs[{i}]", f"{rung} is outside the stage-1 data ({start}, {stop}]"
                )
            )
    if any(b <= a for a, b in itertools.pairwise(rungs)):
        errors.append(SpecError(f"{at}.rungs", "rungs must be strictly increasing"))
    min_position = stopping.get("minPosition")
    if min_position is not None and not start < min_position < stop:
        errors.append(
            SpecError(
                f"{at}.minPosition", f"{min_position} is outside the stage-1 data ({start}, {stop})"
            )
        )
    if stopping.get("confidence") is not None and stopping.get("rule") != "performance":
        errors.append(SpecError(f"{at}.confidence", "only the performance rule uses it"))
    if stopping.get("rule") == "none":
        # eta, minCohort and compareWindows are defaulted by the schema (the API server stores
        # them in every spec), so only the rung settings without a default can be told apart.
        for knob in ("rungs", "minPosition"):
            if stopping.get(knob) is not None:
                errors.append(
                    SpecError(f"{at}.{knob}", "rule none stops no trial and has no rungs")
                )
    return errors


TRANSFER_KNOBS = ("batchExponent", "lrExponent", "weightDecay", "parameters")


def _transfer_errors(spec: dict[str, Any]) -> list[SpecError]:
    """``spec.stage1.transfer``: knobs only for a transform that reads them, finite exponents,
    and named parameters that exist and hold numbers."""
    errors: list[SpecError] = []
    transfer = spec.get("stage1", {}).get("transfer") or {}
    at = "spec.stage1.transfer"
    name = transfer.get("name", "none")
    if name == "none":
        for knob in TRANSFER_KNOBS:
            if knob in transfer:
                errors.append(SpecError(f"{at}.{knob}", "only the rate-aware transfer uses it"))
        return errors
    for knob in ("batchExponent", "lrExponent"):
        value = transfer.get(knob)
        if value is not None and not math.isfinite(value):  # NaN passes the schema's bounds
            errors.append(SpecError(f"{at}.{knob}", f"must be a finite number, got {value}"))
    params = {p.get("name"): p for p in spec.get("parameters") or []}
    for role, param in (transfer.get("parameters") or {}).items():
        where = f"{at}.parameters.{role}"
        if param not in params:
            errors.append(SpecError(where, f"{param!r} is not a parameter of spec.parameters"))
            continue
        values = params[param].get("values") or []
        if params[param].get("type") == "categorical" and not all(_is_number(v) for v in values):
            errors.append(SpecError(where, f"{param!r} has values that are not numbers"))
    return errors


PROMOTION_KNOBS = ("familyParameter", "perFamily")
DEFAULT_FAMILY_PARAMETER = "model"


def _promotion_errors(spec: dict[str, Any]) -> list[SpecError]:
    """``spec.stage1.promotion``: knobs only for ``family``, whose family parameter must be a
    categorical parameter of ``spec.parameters`` (each of its values is a family)."""
    promotion = spec.get("stage1", {}).get("promotion") or {}
    at = "spec.stage1.promotion"
    if promotion.get("name", "rank") != "family":
        return [
            SpecError(f"{at}.{knob}", "only the family promotion uses it")
            for knob in PROMOTION_KNOBS
            if knob in promotion
        ]
    name = promotion.get("familyParameter", DEFAULT_FAMILY_PARAMETER)
    where = f"{at}.familyParameter"
    default = "" if "familyParameter" in promotion else " (the default)"
    params = {p.get("name"): p for p in spec.get("parameters") or []}
    if name not in params:
        return [SpecError(where, f"{name!r}{default} is not a parameter of spec.parameters")]
    if params[name].get("type") != "categorical":
        return [
            SpecError(
                where,
                f"{name!r}{default} is not categorical ({params[name].get('type')}): a family "
                "is a value of a categorical parameter",
            )
        ]
    return []


def _history_errors(spec: dict[str, Any]) -> list[SpecError]:
    """``spec.stage1.history``: each earlier search named by exactly one of name/results, none
    twice; searches only with a policy that uses them, and a policy only with searches (as the
    promotion's knobs are refused for a policy that ignores them)."""
    history = spec.get("stage1", {}).get("history") or {}
    at = "spec.stage1.history"
    policy = history.get("policy", "none")
    searches = history.get("searches") or []
    errors: list[SpecError] = []
    if policy == "none" and searches:
        errors.append(
            SpecError(
                f"{at}.searches",
                "policy none uses no earlier search: set policy: residual, or remove them",
            )
        )
    if policy != "none" and not searches:
        errors.append(
            SpecError(f"{at}.searches", f"policy {policy} needs at least one earlier search")
        )
    seen: dict[tuple[str, str], int] = {}
    for i, entry in enumerate(searches):
        where = f"{at}.searches[{i}]"
        given = [k for k in ("name", "results") if entry.get(k) is not None]
        if len(given) != 1:
            errors.append(SpecError(where, "exactly one of name or results"))
            continue
        key = (given[0], str(entry[given[0]]))
        if key in seen:
            errors.append(
                SpecError(f"{where}.{given[0]}", f"duplicate of {at}.searches[{seen[key]}]")
            )
        seen.setdefault(key, i)
    return errors


def _is_number(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _seed_errors(spec: dict[str, Any]) -> list[SpecError]:
    seed = spec.get("seed", 0)
    if isinstance(seed, int) and not SEED_MIN <= seed <= SEED_MAX:
        return [
            SpecError("spec.seed", f"{seed} is outside [{SEED_MIN}, {SEED_MAX}] (a 31-bit seed)")
        ]
    return []


def _coverage_errors(spec: dict[str, Any], windows: int) -> list[SpecError]:
    """Stage 2 must score every evaluation window: the winner is chosen on their mean.

    A stage-2 run trains (and, by progressive validation, scores) windows ``[start, stop)``; the
    evaluation windows are the last ``evaluationWindows`` of the stream, ``[T - Δ, T)``. A range
    that starts after ``T - Δ`` or stops before ``T`` would pay full training and then have no
    (or a truncated) target to compare the winners on.
    """
    delta = spec["objective"]["evaluationWindows"]
    if delta > windows:
        return []  # reported on spec.objective.evaluationWindows
    first = windows - delta
    data = spec["stage2"]["data"]
    at = "spec.stage2.data"
    start = data.get("start", 0)
    stop = data.get("stop")
    errors: list[SpecError] = []
    target = f"the evaluation windows [{first}, {windows}) (the last {delta} of {windows})"
    if first < start < windows:
        errors.append(
            SpecError(f"{at}.start", f"{start} is after {first}: stage 2 must score {target}")
        )
    if stop is not None and start < stop < windows:
        errors.append(
            SpecError(
                f"{at}.stop",
                f"{stop} ends before the stream's {windows} windows: stage 2 must score {target}",
            )
        )
    return errors


def _template_errors(spec: dict[str, Any]) -> list[SpecError]:
    errors: list[SpecError] = []
    at = "spec.trialTemplate"
    template = spec.get("trialTemplate")
    names = {p.get("name") for p in spec.get("parameters", [])}
    if not isinstance(template, dict) or not template:
        return [SpecError(at, "required: the pod template that runs one trial")]
    containers = (template.get("spec") or {}).get("containers")
    if not isinstance(containers, list) or not containers:
        return [
            SpecError(f"{at}.spec.containers", "at least one container (the trainer) is required")
        ]
    first = containers[0]
    if not isinstance(first, dict):
        return [SpecError(f"{at}.spec.containers[0]", "must be an object")]
    for field in ("command", "args"):
        value = first.get(field, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            errors.append(
                SpecError(f"{at}.spec.containers[0].{field}", "must be a list of strings")
            )
            continue
        for j, arg in enumerate(value):
            for ref in PARAM_REFERENCE.findall(arg):
                if ref not in names:
                    errors.append(
                        SpecError(
                            f"{at}.spec.containers[0].{field}[{j}]",
                            f"{{{{params.{ref}}}}} names no parameter",
                        )
                    )
    if not first.get("command") and not first.get("image"):
        errors.append(SpecError(f"{at}.spec.containers[0]", "needs a command or an image"))
    return errors


def semantic_errors(document: dict[str, Any]) -> list[SpecError]:
    """Every semantic problem of a schema-valid, defaulted HyperSearch object."""
    errors: list[SpecError] = []
    if document.get("kind") != "HyperSearch":
        errors.append(SpecError("kind", f"expected HyperSearch, got {document.get('kind')!r}"))
    spec = document["spec"]
    windows = spec["stream"]["windows"]
    errors += _parameter_errors(spec["parameters"])
    if spec["objective"]["evaluationWindows"] > windows:
        errors.append(
            SpecError(
                "spec.objective.evaluationWindows",
                f"{spec['objective']['evaluationWindows']} exceeds the stream's {windows} windows",
            )
        )
    top_k = spec["stage2"]["topK"]
    if top_k > spec["trials"]:
        errors.append(
            SpecError("spec.stage2.topK", f"{top_k} exceeds the trial count {spec['trials']}")
        )
    errors += _data_errors(spec["stage1"]["data"], "spec.stage1.data", windows)
    errors += _data_errors(spec["stage2"]["data"], "spec.stage2.data", windows)
    errors += _coverage_errors(spec, windows)
    errors += _seed_errors(spec)
    errors += _stopping_errors(spec, windows)
    errors += _transfer_errors(spec)
    errors += _promotion_errors(spec)
    errors += _history_errors(spec)
    errors += _template_errors(spec)
    workload = spec["stage2"].get("workload") or {}
    is_job = (workload.get("apiVersion", "batch/v1"), workload.get("kind", "Job")) == (
        "batch/v1",
        "Job",
    )
    if not is_job and not workload.get("template"):
        errors.append(
            SpecError("spec.stage2.workload.template", f"required for kind {workload.get('kind')}")
        )
    return errors
