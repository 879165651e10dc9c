"""Rate-aware hyperparameter transfer (issue 16, lead 1): the params a stage-1 run trains with.

At data rate ``s`` a run of batch ``B`` takes ``s`` times the optimizer steps of a full run over
the same data time, so a fixed learning rate or weight decay means something else at 1% than at
100%. A transfer policy maps a configuration (the params the search sampled) to the params the
trainer runs with at rate ``s``; stage 2 (full data) and everything a person reads (results,
reports, promotions) keep the untransformed configuration. Policies are chosen by name
(:data:`TRANSFERS`) and built from their own settings, as predictors and promotion policies are.
No I/O: a dict in, a dict out.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from hypersearch.engine.registry import lookup
from hypersearch.spec.model import Parameter, ParamValue, TransferSpec


@dataclass(frozen=True)
class Transferred:
    """What a transfer returns: the params to run with, what changed and what was clipped.

    ``changes`` and ``clipped`` are short notes for people, e.g. ``"lr 0.05->0.5"`` and
    ``"lr 0.5->0.3 (clipped to the parameter's max 0.3)"``.
    """

    params: dict[str, ParamValue]
    changes: tuple[str, ...] = ()
    clipped: tuple[str, ...] = ()

    def note(self) -> str:
        """One line for a trial's reason ('' when nothing was transformed)."""
        if not self.changes and not self.clipped:
            return ""
        text = "stage-1 params transformed for its data rate: " + ", ".join(self.changes)
        if self.clipped:
            text += "; clipped: " + ", ".join(self.clipped)
        return text


class Transfer(ABC):
    """Maps a configuration to the params a run at data rate ``rate`` trains with."""

    name: ClassVar[str]

    @abstractmethod
    def apply(
        self, params: Mapping[str, ParamValue], space: Sequence[Parameter], rate: float
    ) -> Transferred:
        """The params for a run at ``rate`` (1.0: full data, always unchanged)."""


class NoTransfer(Transfer):
    """Every run trains with the sampled configuration as it is."""

    name = "none"

    def apply(
        self, params: Mapping[str, ParamValue], space: Sequence[Parameter], rate: float
    ) -> Transferred:
        return Transferred(dict(params))


class RateAwareTransfer(Transfer):
    """Keep a configuration's timescales in data time at rate ``s``.

    - batch size ``B' = B * s**batch_exponent`` (1: the same updates per window as the full run;
      rounded, at least 1);
    - learning rate ``lr' = lr * s**lr_exponent`` (-0.5: the LMS tracking rule under drift);
    - weight decay (``weight_decay="timescale"``) rescaled so its decay per window of data
      (updates per window x lr x wd) equals the full run's:
      ``wd' = wd * (B'/B) * (lr/lr') / s``, from the values after clipping.

    With the defaults (batch scaled by ``s``, learning rate kept) a run makes the full run's
    updates per window, so every per-update timescale (Adam's betas, weight decay) is kept as
    it is. Each value stays within its parameter's bounds (a categorical or unsearched value
    only within the trainer's: batch at least 1, learning rate and weight decay finite and
    non-negative); a clipped value is reported. A parameter the configuration does not set, or
    whose value is not a number, is left alone.
    """

    name = "rate-aware"

    def __init__(
        self,
        batch_exponent: float = 1.0,
        lr_exponent: float = 0.0,
        weight_decay: str = "timescale",
        lr_param: str = "lr",
        batch_param: str = "batch_size",
        weight_decay_param: str = "weight_decay",
    ) -> None:
        if weight_decay not in ("timescale", "unchanged"):
            raise ValueError(f"weight_decay must be timescale or unchanged, not {weight_decay!r}")
        self.batch_exponent = float(batch_exponent)
        self.lr_exponent = float(lr_exponent)
        self.weight_decay = weight_decay
        self.lr_param = lr_param
        self.batch_param = batch_param
        self.weight_decay_param = weight_decay_param

    def apply(
        self, params: Mapping[str, ParamValue], space: Sequence[Parameter], rate: float
    ) -> Transferred:
        s = float(rate)
        out = dict(params)
        if not (0.0 < s < 1.0):
            return Transferred(out)
        bounds = {p.name: p for p in space}
        changes: list[str] = []
        clipped: list[str] = []

        def scale(name: str, factor: float, integer: bool, floor: float) -> float | None:
            """Scale ``name`` by ``factor``; the ratio new/old actually applied (None: untouched)."""
            old = _number(params.get(name))
            if old is None or old <= 0.0:
                return None
            raw = old * factor
            bounded = _clip(raw, bounds.get(name), integer, floor)
            value = float(round(bounded)) if integer else bounded
            if bounded != raw:
                clipped.append(f"{name} {_fmt(raw)}->{_fmt(value)} ({_why(value, bounds, name)})")
            if value != old:
                changes.append(f"{name} {_fmt(old)}->{_fmt(value)}")
                out[name] = _typed(value, params[name], integer)
            return value / old

        batch_ratio = scale(self.batch_param, s**self.batch_exponent, integer=True, floor=1.0)
        lr_ratio = scale(self.lr_param, s**self.lr_exponent, integer=False, floor=0.0)
        if self.weight_decay == "timescale":
            factor = (batch_ratio or 1.0) / (lr_ratio or 1.0) / s
            scale(self.weight_decay_param, factor, integer=False, floor=0.0)
        return Transferred(out, tuple(changes), tuple(clipped))


TRANSFERS: dict[str, type[Transfer]] = {t.name: t for t in (NoTransfer, RateAwareTransfer)}


def transfer_by_name(name: str, **settings: Any) -> Transfer:
    """The transfer policy ``name`` names, built from its own ``settings``."""
    cls = lookup(TRANSFERS, name, "transfer")
    return cls(**settings)


def transfer_from_spec(spec: TransferSpec) -> Transfer:
    """The policy ``spec.stage1.transfer`` chooses."""
    if spec.name == "none":
        return NoTransfer()
    return transfer_by_name(
        spec.name,
        batch_exponent=spec.batch_exponent,
        lr_exponent=spec.lr_exponent,
        weight_decay=spec.weight_decay,
        lr_param=spec.lr_param,
        batch_param=spec.batch_param,
        weight_decay_param=spec.weight_decay_param,
    )


def _number(value: ParamValue | None) -> float | None:
    """A param's value as a finite number (categorical values like ``"1024"`` included)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _clip(value: float, param: Parameter | None, integer: bool, floor: float) -> float:
    lo, hi = floor, math.inf
    if param is not None and param.type != "categorical":
        lo = max(lo, param.min if param.min is not None else lo)
        hi = param.max if param.max is not None else hi
        if integer:  # a whole number inside the bounds
            lo, hi = float(math.ceil(lo)), float(math.floor(hi))
    return min(max(value, lo), hi)


def _why(value: float, bounds: Mapping[str, Parameter], name: str) -> str:
    param = bounds.get(name)
    if param is not None and param.type != "categorical":
        if param.max is not None and value >= param.max:
            return f"clipped to the parameter's max {_fmt(param.max)}"
        if param.min is not None and value <= param.min:
            return f"clipped to the parameter's min {_fmt(param.min)}"
    return f"clipped to at least {_fmt(value)}"


def _typed(value: float, like: ParamValue, integer: bool) -> ParamValue:
    """``value`` in the type of the original (a categorical keeps its string form)."""
    if isinstance(like, str):
        return str(int(value)) if integer else f"{value:.6g}"
    if integer or isinstance(like, int):
        return round(value)
    return float(value)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


__all__ = [
    "TRANSFERS",
    "NoTransfer",
    "RateAwareTransfer",
    "Transfer",
    "Transferred",
    "transfer_by_name",
    "transfer_from_spec",
]
