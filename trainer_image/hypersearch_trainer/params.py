"""Hyperparameters: names, types, defaults and validation.

The engine passes every hyperparameter as a string (``HS_PARAM_<name>`` or ``--param
name=value``); a typo must fail loudly (exit 2) instead of silently training a default model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from hypersearch_trainer.errors import ConfigError

MODELS = ("dlrm", "fm", "lr")
OPTIMIZERS = ("sgd", "adagrad", "adam")


@dataclass(frozen=True)
class HyperParams:
    """Everything a search may vary. Defaults are a sensible FM on one CPU."""

    model: str = "fm"
    lr: float = 0.05
    optimizer: str = "adagrad"
    batch_size: int = 1024
    embedding_dim: int = 16
    hash_buckets: int = 1 << 18
    bottom_mlp: str = "64-32"
    top_mlp: str = "64-32"
    weight_decay: float = 0.0
    dropout: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)

    @property
    def bottom_widths(self) -> list[int]:
        """Hidden widths of the bottom MLP."""
        return parse_widths(self.bottom_mlp, "bottom_mlp")

    @property
    def top_widths(self) -> list[int]:
        """Hidden widths of the top MLP."""
        return parse_widths(self.top_mlp, "top_mlp")


def parse_widths(text: str, name: str) -> list[int]:
    """``"64-32"`` → [64, 32]; ``""`` or ``"none"`` → no hidden layer."""
    text = text.strip().lower()
    if text in ("", "none", "0"):
        return []
    try:
        widths = [int(t) for t in text.replace(",", "-").split("-")]
    except ValueError:
        raise ConfigError(
            f"hyperparameter {name!r}: expected layer widths like '64-32', got {text!r}"
        ) from None
    if any(w < 1 or w > 65536 for w in widths):
        raise ConfigError(f"hyperparameter {name!r}: widths must be in 1..65536, got {text!r}")
    return widths


def _float(
    lo: float, hi: float, lo_open: bool = False, hi_open: bool = False
) -> Callable[[str, str], float]:
    def conv(name: str, raw: str) -> float:
        try:
            v = float(raw)
        except ValueError:
            raise ConfigError(f"hyperparameter {name!r}: expected a number, got {raw!r}") from None
        bad_lo = v <= lo if lo_open else v < lo
        bad_hi = v >= hi if hi_open else v > hi
        if bad_lo or bad_hi or v != v:
            lb, rb = ("(" if lo_open else "["), (")" if hi_open else "]")
            raise ConfigError(f"hyperparameter {name!r}: {raw!r} is outside {lb}{lo}, {hi}{rb}")
        return v

    return conv


def _int(lo: int, hi: int) -> Callable[[str, str], int]:
    def conv(name: str, raw: str) -> int:
        try:
            f = float(raw)
            if not f.is_integer():
                raise ValueError(raw)
            v = int(f)
        except (ValueError, OverflowError):
            raise ConfigError(
                f"hyperparameter {name!r}: expected an integer, got {raw!r}"
            ) from None
        if not lo <= v <= hi:
            raise ConfigError(f"hyperparameter {name!r}: {raw!r} is outside [{lo}, {hi}]")
        return v

    return conv


def _choice(options: tuple[str, ...]) -> Callable[[str, str], str]:
    def conv(name: str, raw: str) -> str:
        v = raw.strip().lower()
        if v not in options:
            raise ConfigError(
                f"hyperparameter {name!r}: {raw!r} is not one of {', '.join(options)}"
            )
        return v

    return conv


def _widths(name: str, raw: str) -> str:
    parse_widths(raw, name)
    return raw.strip()


_CONVERTERS: dict[str, Callable[[str, str], Any]] = {
    "model": _choice(MODELS),
    "lr": _float(0.0, 100.0, lo_open=True),
    "optimizer": _choice(OPTIMIZERS),
    "batch_size": _int(1, 1 << 20),
    "embedding_dim": _int(1, 1024),
    "hash_buckets": _int(2, 1 << 30),
    "bottom_mlp": _widths,
    "top_mlp": _widths,
    "weight_decay": _float(0.0, 10.0),
    "dropout": _float(0.0, 1.0, hi_open=True),
}
assert set(_CONVERTERS) == {f.name for f in fields(HyperParams)}


def parse_params(raw: Mapping[str, str], origin: Mapping[str, str] | None = None) -> HyperParams:
    """Validate string parameters; ``origin`` says where each came from, for error messages."""
    values: dict[str, Any] = {}
    for name, text in raw.items():
        if name not in _CONVERTERS:
            where = f" (from {origin[name]})" if origin and name in origin else ""
            raise ConfigError(
                f"unknown hyperparameter {name!r}{where}; known: {', '.join(sorted(_CONVERTERS))}"
            )
        values[name] = _CONVERTERS[name](name, str(text))
    return HyperParams(**values)
