"""Turns Arrow tables into model-ready batches: hashed categorical keys, numeric matrix, labels.

All sources (tabular files, Criteo, synthetic streams) share this step so a feature means the
same thing wherever it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from hypersearch_trainer.errors import ConfigError, DataError
from hypersearch_trainer.expr import Expr, as_array
from hypersearch_trainer.hashing import field_keys, hash_column
from hypersearch_trainer.sampling import RowSelection

ROW_BITS = 32  # example id = window index << ROW_BITS | row index within the window


@dataclass
class Batch:
    """A slice of one window, in time order."""

    cat_keys: npt.NDArray[np.uint64]  # [n, n_cat] salted 64-bit hashes
    numeric: npt.NDArray[np.float32]  # [n, n_num] transformed with sign(x)*log1p(|x|)
    labels: npt.NDArray[np.float32]  # [n] 0/1
    example_ids: npt.NDArray[np.int64]  # [n] stable ids for hash-based sampling
    strata: npt.NDArray[np.str_] | None  # [n] stratum names, when the dataset has strata

    def __len__(self) -> int:
        return len(self.labels)

    def slice(self, lo: int, hi: int) -> Batch:
        """Rows [lo, hi)."""
        return Batch(
            self.cat_keys[lo:hi],
            self.numeric[lo:hi],
            self.labels[lo:hi],
            self.example_ids[lo:hi],
            None if self.strata is None else self.strata[lo:hi],
        )

    @staticmethod
    def concat(parts: list[Batch]) -> Batch:
        """Rows of several batches, in order (a training batch may span chunks of a window)."""
        if len(parts) == 1:
            return parts[0]
        strata = [p.strata for p in parts]
        return Batch(
            np.concatenate([p.cat_keys for p in parts]),
            np.concatenate([p.numeric for p in parts]),
            np.concatenate([p.labels for p in parts]),
            np.concatenate([p.example_ids for p in parts]),
            None if any(s is None for s in strata) else np.concatenate(strata),  # type: ignore[arg-type]
        )

    def select(self, mask: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> Batch:
        """Rows selected by a boolean mask or an index array."""
        return Batch(
            self.cat_keys[mask],
            self.numeric[mask],
            self.labels[mask],
            self.example_ids[mask],
            None if self.strata is None else self.strata[mask],
        )


def transform_numeric(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """sign(x)*log1p(|x|) with missing values as 0: scale-free, no statistics to fit or store."""
    v = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    out: npt.NDArray[np.float32] = (np.sign(v) * np.log1p(np.abs(v))).astype(np.float32)
    return out


def example_ids(window: int, first_row: int, n: int) -> npt.NDArray[np.int64]:
    """Stable ids that do not require counting the rows of earlier windows."""
    return (np.int64(window) << np.int64(ROW_BITS)) + np.arange(first_row, first_row + n)


def labels_from(arr: pa.Array, what: str, where: str) -> npt.NDArray[np.float32]:
    """Boolean or numeric label → float 0/1; nulls are a data error naming the first bad row."""
    if arr.null_count:
        first = int(np.argmax(arr.is_null().to_numpy(zero_copy_only=False)))
        raise DataError(f"{where}: label {what} is missing (null) at row {first}")
    if pa.types.is_boolean(arr.type):
        out: npt.NDArray[np.float32] = arr.to_numpy(zero_copy_only=False).astype(np.float32)
        return out
    try:
        vals = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"{where}: label {what} is not numeric or boolean: {exc}") from None
    return np.asarray(vals > 0, dtype=np.float32)


class Featurizer:
    """Evaluates the dataset's feature expressions on a table."""

    def __init__(
        self,
        categorical: list[str],
        numeric: list[str],
        label: str,
        stratum: str | None = None,
        max_strata: int = 32,
    ) -> None:
        if not categorical and not numeric:
            raise ConfigError("dataset: needs at least one categorical or numeric feature")
        self.categorical = [Expr(c, f"categorical feature {c!r}") for c in categorical]
        self.numeric = [Expr(c, f"numeric feature {c!r}") for c in numeric]
        self.label = Expr(label, f"label {label!r}")
        self.stratum = Expr(stratum, f"stratum {stratum!r}") if stratum else None
        self.max_strata = max_strata
        self._strata_seen: set[str] = set()

    @property
    def columns(self) -> list[str]:
        """Input columns read by any expression, in first-use order."""
        out: list[str] = []
        exprs = [*self.categorical, *self.numeric, self.label]
        if self.stratum is not None:
            exprs.append(self.stratum)
        for e in exprs:
            out.extend(c for c in e.columns if c not in out)
        return out

    def check_columns(self, available: list[str], where: str) -> None:
        """Fail before training when a referenced column does not exist."""
        for c in self.columns:
            if c not in available:
                raise ConfigError(
                    f"{where}: column {c!r} not found; available columns: {', '.join(available)}"
                )

    def featurize(
        self,
        table: pa.Table,
        window: int,
        first_row: int,
        where: str,
        rows: RowSelection | None = None,
    ) -> Batch:
        """Build one batch from the rows of ``table`` (all from window ``window``) that ``rows``
        keeps (all when None)."""
        n = table.num_rows
        ids = example_ids(window, first_row, n)
        labels = labels_from(
            as_array(self.label.evaluate(table), n), repr(self.label.source), where
        )
        if rows is not None:
            mask = rows(window, ids, labels)
            if not mask.all():
                table = table.filter(pa.array(mask))
                ids, labels, n = ids[mask], labels[mask], int(mask.sum())
        cats = np.empty((n, len(self.categorical)), dtype=np.uint64)
        for j, e in enumerate(self.categorical):
            cats[:, j] = field_keys(hash_column(as_array(e.evaluate(table), n)), j)
        nums = np.empty((n, len(self.numeric)), dtype=np.float32)
        for j, e in enumerate(self.numeric):
            arr = as_array(e.evaluate(table), n)
            try:
                vals = pc.fill_null(pc.cast(arr, pa.float64()), np.nan)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DataError(f"{where}: numeric feature {e.source!r}: {exc}") from None
            nums[:, j] = transform_numeric(vals.to_numpy(zero_copy_only=False))
        strata = None
        if self.stratum is not None:
            s = pc.fill_null(pc.cast(as_array(self.stratum.evaluate(table), n), pa.string()), "")
            strata = np.asarray(s.to_numpy(zero_copy_only=False), dtype=np.str_)
            self._strata_seen.update(np.unique(strata).tolist())
            if len(self._strata_seen) > self.max_strata:
                raise DataError(
                    f"{where}: stratum {self.stratum.source!r} has more than {self.max_strata} "
                    "distinct values; use a coarser expression (metric labels must stay bounded)"
                )
        return Batch(cats, nums, labels, ids, strata)
