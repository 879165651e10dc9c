"""A tiny, safe expression language for dataset YAML files (labels, derived features, strata).

Expressions are Python syntax parsed with ``ast`` and evaluated column-wise with Arrow compute,
never with ``eval``: only column names, literals, arithmetic, comparisons, boolean operators and
the functions in ``FUNCTIONS`` are allowed. Example: ``delay > 15``, ``hour(date)``,
``concat(origin, '-', destination)``, ``cut(distance, 500, 1500)``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hypersearch_trainer.errors import ConfigError

Value = Any  # a pyarrow Array/ChunkedArray or a Python scalar


def _cut(x: Value, *edges: Value) -> pa.Array:
    vals = pc.fill_null(pc.cast(x, pa.float64()), np.nan).to_numpy(zero_copy_only=False)
    return pa.array(np.searchsorted(np.asarray(edges, dtype=np.float64), vals, side="right"))


def _concat(*parts: Value) -> Value:
    strs = [p if isinstance(p, str) else pc.cast(p, pa.string()) for p in parts]
    return pc.binary_join_element_wise(*strs, "")


def _minute_of_day(x: Value) -> Value:
    return pc.add(pc.multiply(pc.hour(x), 60), pc.minute(x))


FUNCTIONS: dict[str, Callable[..., Value]] = {
    "hour": pc.hour,
    "minute_of_day": _minute_of_day,
    "dayofweek": pc.day_of_week,
    "dayofyear": pc.day_of_year,
    "month": pc.month,
    "abs": pc.abs,
    "log1p": lambda x: pc.ln(pc.add(pc.cast(x, pa.float64()), 1.0)),
    "cut": _cut,
    "concat": _concat,
}

_BINOPS: dict[type[ast.operator], Callable[[Value, Value], Value]] = {
    ast.Add: pc.add,
    ast.Sub: pc.subtract,
    ast.Mult: pc.multiply,
    ast.Div: lambda a, b: pc.divide(pc.cast(a, pa.float64()), b),
    ast.Mod: lambda a, b: pc.subtract(a, pc.multiply(pc.floor(pc.divide(a, b)), b)),
}
_CMPOPS: dict[type[ast.cmpop], Callable[[Value, Value], Value]] = {
    ast.Gt: pc.greater,
    ast.GtE: pc.greater_equal,
    ast.Lt: pc.less,
    ast.LtE: pc.less_equal,
    ast.Eq: pc.equal,
    ast.NotEq: pc.not_equal,
}


class Expr:
    """A parsed expression; ``columns`` lists the input columns it reads."""

    def __init__(self, source: str, what: str) -> None:
        self.source = source
        self.what = what
        try:
            self._tree = ast.parse(source, mode="eval").body
        except SyntaxError as exc:
            raise ConfigError(f"{what}: cannot parse expression {source!r}: {exc.msg}") from None
        self.columns: list[str] = []
        self._check(self._tree)

    def _check(self, node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            if node.id not in self.columns:
                self.columns.append(node.id)
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float | str | bool):
                raise ConfigError(f"{self.what}: unsupported literal {node.value!r}")
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = ast.unparse(node.func)
                raise ConfigError(
                    f"{self.what}: unknown function {name!r} in {self.source!r}; "
                    f"known: {', '.join(sorted(FUNCTIONS))}"
                )
            for arg in node.args:
                self._check(arg)
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            self._check(node.left)
            self._check(node.right)
        elif isinstance(node, ast.Compare) and all(type(o) in _CMPOPS for o in node.ops):
            self._check(node.left)
            for c in node.comparators:
                self._check(c)
        elif isinstance(node, ast.BoolOp | ast.UnaryOp):
            for child in ast.iter_child_nodes(node):
                if not isinstance(child, ast.boolop | ast.unaryop):
                    self._check(child)
        else:
            raise ConfigError(
                f"{self.what}: unsupported syntax {ast.unparse(node)!r} in {self.source!r}"
            )

    def evaluate(self, table: pa.Table) -> Value:
        """Evaluate on an Arrow table; returns an Arrow array (or a scalar for constants)."""
        try:
            return self._eval(self._tree, table)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError) as exc:
            raise ConfigError(f"{self.what}: cannot evaluate {self.source!r}: {exc}") from None

    def _eval(self, node: ast.AST, table: pa.Table) -> Value:
        if isinstance(node, ast.Name):
            if node.id not in table.column_names:
                raise ConfigError(
                    f"{self.what}: column {node.id!r} not found; "
                    f"available: {', '.join(table.column_names)}"
                )
            return table.column(node.id)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            return FUNCTIONS[node.func.id](*(self._eval(a, table) for a in node.args))
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](
                self._eval(node.left, table), self._eval(node.right, table)
            )
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, table)
            out: Value = None
            for op, comp in zip(node.ops, node.comparators, strict=True):
                right = self._eval(comp, table)
                part = _CMPOPS[type(op)](left, right)
                out = part if out is None else pc.and_kleene(out, part)
                left = right
            return out
        if isinstance(node, ast.BoolOp):
            vals = [self._eval(v, table) for v in node.values]
            fn = pc.and_kleene if isinstance(node.op, ast.And) else pc.or_kleene
            acc = vals[0]
            for v in vals[1:]:
                acc = fn(acc, v)
            return acc
        if isinstance(node, ast.UnaryOp):
            val = self._eval(node.operand, table)
            if isinstance(node.op, ast.Not):
                return pc.invert(val)
            if isinstance(node.op, ast.USub):
                return pc.negate(val)
            return val
        raise ConfigError(f"{self.what}: unsupported syntax in {self.source!r}")


def as_array(value: Value, n: int) -> pa.Array:
    """Broadcast a scalar result and flatten chunked arrays."""
    if isinstance(value, pa.ChunkedArray):
        return value.combine_chunks()
    if isinstance(value, pa.Array):
        return value
    return pa.array([value] * n)
