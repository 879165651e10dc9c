"""Lazily read, time-ordered streams cut into windows.

A source knows how many windows the stream has (``num_windows``) and yields the windows of a
range ``[start, stop)`` one at a time. A window's rows can be iterated twice (progressive
validation scores the whole window before training on it): small windows are held in memory,
Criteo day files are re-read from disk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from hypersearch_trainer.errors import ConfigError, DataError
from hypersearch_trainer.features import Batch, Featurizer
from hypersearch_trainer.sampling import RowSelection

CHUNK_ROWS = 1 << 18


@dataclass
class Window:
    """One window of the stream; ``batches()`` may be called more than once."""

    index: int
    label: str
    batches: Callable[[], Iterator[Batch]]


class Source(Protocol):
    """What the training loop needs from a stream."""

    name: str
    categorical_names: list[str]
    numeric_names: list[str]
    has_strata: bool

    @property
    def num_windows(self) -> int:
        """Windows in the stream."""
        ...

    def windows(self, start: int, stop: int, rows: RowSelection | None = None) -> Iterator[Window]:
        """Windows ``start .. stop-1`` in order, holding only the rows ``rows`` keeps."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the data is, as plain data: prepared data is fingerprinted by it."""
        ...


def _in_memory(batches: list[Batch]) -> Callable[[], Iterator[Batch]]:
    return lambda: iter(batches)


def _chunked(
    table: pa.Table, feat: Featurizer, window: int, where: str, rows: RowSelection | None
) -> list[Batch]:
    out = []
    for lo in range(0, table.num_rows, CHUNK_ROWS):
        part = table.slice(lo, CHUNK_ROWS)
        out.append(feat.featurize(part, window, lo, where, rows))
    return out


# --------------------------------------------------------------------------- tabular files


@dataclass
class TabularSpec:
    """A time-stamped Parquet/CSV file described by a dataset YAML (see docs/trainer.md)."""

    name: str
    path: Path
    timestamp: str
    label: str
    categorical: list[str]
    numeric: list[str]
    window_seconds: float = 86400.0
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    stratum: str | None = None
    max_strata: int = 32
    file_format: str = "parquet"
    timestamp_unit: str = "s"


def _to_micros(arr: pa.Array | pa.ChunkedArray, unit: str, where: str) -> np.ndarray[Any, Any]:
    typ = arr.type
    if pa.types.is_timestamp(typ):
        if typ.tz is not None:
            arr = pc.cast(arr, pa.timestamp(typ.unit, tz="UTC"))
        arr = arr.cast(pa.timestamp("us", tz=arr.type.tz))
        ints = arr.cast(pa.int64())
    elif pa.types.is_date(typ):
        ints = arr.cast(pa.timestamp("us")).cast(pa.int64())
    elif pa.types.is_integer(typ) or pa.types.is_floating(typ):
        scale = {"s": 1_000_000, "ms": 1_000, "us": 1}[unit]
        ints = pc.multiply(arr.cast(pa.float64()), float(scale)).cast(pa.int64())
    elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
        try:
            ints = arr.cast(pa.timestamp("us")).cast(pa.int64())
        except pa.ArrowInvalid as exc:
            raise DataError(f"{where}: cannot parse timestamps: {exc}") from None
    else:
        raise ConfigError(f"{where}: timestamp column has unsupported type {typ}")
    if ints.null_count:
        raise DataError(f"{where}: timestamp column has {ints.null_count} missing values")
    return np.asarray(ints.to_numpy(zero_copy_only=False), dtype=np.int64)


def _micros(t: dt.datetime) -> int:
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return int((t - dt.datetime(1970, 1, 1)).total_seconds() * 1_000_000)


class TabularSource:
    """Parquet or CSV file sorted by a timestamp column; windows of fixed duration."""

    def __init__(self, spec: TabularSpec, index: bool = True) -> None:
        self.spec = spec
        self.name = spec.name
        self.featurizer = Featurizer(
            spec.categorical, spec.numeric, spec.label, spec.stratum, spec.max_strata
        )
        self.categorical_names = list(spec.categorical)
        self.numeric_names = list(spec.numeric)
        self.has_strata = spec.stratum is not None
        if not spec.path.is_file():
            raise ConfigError(f"dataset {spec.name}: data file {spec.path} does not exist")
        self._where = str(spec.path)
        columns = self._schema_names()
        if spec.timestamp not in columns:
            raise ConfigError(
                f"{self._where}: timestamp column {spec.timestamp!r} not found; "
                f"available columns: {', '.join(columns)}"
            )
        self.featurizer.check_columns(columns, self._where)
        self._num_windows: int | None = None
        if index:  # a run on prepared data never needs the index: it then waits for first use
            self._index()

    @property
    def num_windows(self) -> int:
        if self._num_windows is None:
            self._index()
        assert self._num_windows is not None
        return self._num_windows

    def describe(self) -> dict[str, Any]:
        """What the data is (for prepared data's fingerprint): the description and the file."""
        st = self.spec.path.stat()
        desc = {k: str(v) if v is not None else None for k, v in vars(self.spec).items()}
        return {"kind": "tabular", **desc, "file": {"size": st.st_size, "mtime_ns": st.st_mtime_ns}}

    # ---- file access
    def _schema_names(self) -> list[str]:
        try:
            if self.spec.file_format == "parquet":
                return list(pq.ParquetFile(self.spec.path).schema_arrow.names)
            reader = pacsv.open_csv(self.spec.path)
            return list(reader.schema.names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{self._where}: cannot read {self.spec.file_format}: {exc}") from None

    def _iter(self, columns: list[str], first_row: int) -> Iterator[tuple[int, pa.RecordBatch]]:
        """(row offset, record batch) of the given columns, starting at or before ``first_row``."""
        try:
            if self.spec.file_format == "parquet":
                pf = pq.ParquetFile(self.spec.path)
                meta = pf.metadata
                groups: list[int] = []
                offset, skip_to = 0, 0
                for g in range(meta.num_row_groups):
                    n = meta.row_group(g).num_rows
                    if offset + n > first_row:
                        if not groups:
                            skip_to = offset
                        groups.append(g)
                    offset += n
                if not groups:
                    return
                pos = skip_to
                for rb in pf.iter_batches(
                    batch_size=CHUNK_ROWS, row_groups=groups, columns=columns
                ):
                    yield pos, rb
                    pos += rb.num_rows
            else:
                conv = pacsv.ConvertOptions(include_columns=columns)
                reader = pacsv.open_csv(self.spec.path, convert_options=conv)
                pos = 0
                for rb in reader:
                    yield pos, rb
                    pos += rb.num_rows
        except pa.ArrowInvalid as exc:
            raise DataError(f"{self._where}: {exc}") from None

    def _index(self) -> None:
        """One pass over the timestamp column: window of every row, sortedness, window count."""
        s = self.spec
        parts = [
            _to_micros(rb.column(0), s.timestamp_unit, f"{self._where} column {s.timestamp!r}")
            for _, rb in self._iter([s.timestamp], 0)
        ]
        ts = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        if len(ts) == 0:
            raise DataError(f"{self._where}: no rows")
        bad = np.nonzero(np.diff(ts) < 0)[0]
        if len(bad):
            r = int(bad[0]) + 1
            raise DataError(
                f"{self._where}: rows must be sorted by {s.timestamp!r}, but row {r} is earlier "
                "than the row before it"
            )
        win_us = int(s.window_seconds * 1_000_000)
        lo = _micros(s.start_time) if s.start_time else int(ts[0]) // win_us * win_us
        hi = _micros(s.end_time) if s.end_time else None
        keep_lo = int(np.searchsorted(ts, lo, side="left"))
        keep_hi = len(ts) if hi is None else int(np.searchsorted(ts, hi, side="left"))
        if keep_hi <= keep_lo:
            raise DataError(f"{self._where}: no rows inside the dataset's time range")
        self._origin_us = lo
        self._win_us = win_us
        last = int(ts[keep_hi - 1])
        n = -(-(hi - lo) // win_us) if hi is not None else (last - lo) // win_us + 1
        self._num_windows = n
        wids = (ts[keep_lo:keep_hi] - lo) // win_us
        edges = np.searchsorted(wids, np.arange(n + 1), side="left") + keep_lo
        self._row_edges = edges  # rows of window w: [edges[w], edges[w+1])

    def window_label(self, w: int) -> str:
        if self._num_windows is None:
            self._index()
        start = dt.datetime(1970, 1, 1) + dt.timedelta(
            microseconds=self._origin_us + w * self._win_us
        )
        if self._win_us % 86_400_000_000 == 0:
            return start.date().isoformat()
        return start.isoformat()

    def windows(self, start: int, stop: int, rows: RowSelection | None = None) -> Iterator[Window]:
        """Stream the file once, cutting it into windows; each window is featurised in memory."""
        if start >= stop:
            return
        if self._num_windows is None:
            self._index()
        edges = self._row_edges
        cols = [
            self.spec.timestamp,
            *[c for c in self.featurizer.columns if c != self.spec.timestamp],
        ]
        pending: list[pa.RecordBatch] = []
        w = start
        for offset, rb in self._iter(cols, int(edges[start])):
            rb_lo, rb_hi = offset, offset + rb.num_rows
            while w < stop:
                w_lo, w_hi = int(edges[w]), int(edges[w + 1])
                a, b = max(w_lo, rb_lo), min(w_hi, rb_hi)
                if b > a:
                    pending.append(rb.slice(a - rb_lo, b - a))
                if w_hi <= rb_hi:
                    yield self._make_window(w, pending, rows)
                    pending = []
                    w += 1
                else:
                    break
            if w >= stop:
                return
        while w < stop:  # trailing empty windows
            yield self._make_window(w, pending, rows)
            pending = []
            w += 1

    def _make_window(
        self, w: int, parts: list[pa.RecordBatch], rows: RowSelection | None = None
    ) -> Window:
        where = f"{self._where} window {w} ({self.window_label(w)})"
        if parts:
            table = pa.Table.from_batches(parts)
            batches = _chunked(table, self.featurizer, w, where, rows)
        else:
            batches = []
        return Window(w, self.window_label(w), _in_memory(batches))


# --------------------------------------------------------------------------- Criteo


CRITEO_INT = [f"I{i}" for i in range(1, 14)]
CRITEO_CAT = [f"C{i}" for i in range(1, 27)]
CRITEO_COLUMNS = ["label", *CRITEO_INT, *CRITEO_CAT]


def _natural_key(p: Path) -> list[Any]:
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


class CriteoSource:
    """A directory of Criteo day files (TSV, optionally .gz), one window per file, name order."""

    def __init__(self, directory: Path) -> None:
        if not directory.is_dir():
            raise ConfigError(f"criteo dataset: directory {directory} does not exist")
        self.files = sorted(
            (p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")),
            key=_natural_key,
        )
        if not self.files:
            raise ConfigError(f"criteo dataset: directory {directory} has no day files")
        self.name = f"criteo:{directory}"
        self.num_windows = len(self.files)
        self.categorical_names = list(CRITEO_CAT)
        self.numeric_names = list(CRITEO_INT)
        self.has_strata = False
        self.featurizer = Featurizer(CRITEO_CAT, CRITEO_INT, "label")

    def describe(self) -> dict[str, Any]:
        files = [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in self.files]
        return {"kind": "criteo", "directory": str(self.files[0].parent), "files": files}

    def _read(self, w: int, rows: RowSelection | None) -> Iterator[Batch]:
        path = self.files[w]
        types: dict[str, pa.DataType] = {"label": pa.int64()}
        types.update({c: pa.int64() for c in CRITEO_INT})
        types.update({c: pa.string() for c in CRITEO_CAT})
        read = pacsv.ReadOptions(column_names=CRITEO_COLUMNS, block_size=32 << 20)
        parse = pacsv.ParseOptions(delimiter="\t", quote_char=False)
        conv = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)
        row = 0
        try:
            with pa.input_stream(str(path), compression="detect") as stream:
                reader = pacsv.open_csv(stream, read, parse, conv)
                for rb in reader:
                    table = pa.Table.from_batches([rb])
                    labels = table.column("label")
                    bad = pc.invert(pc.is_in(labels, pa.array([0, 1])))
                    if pc.any(pc.fill_null(bad, True)).as_py():
                        i = int(np.argmax(pc.fill_null(bad, True).to_numpy(zero_copy_only=False)))
                        raise DataError(
                            f"{path}: row {row + i + 1}: label must be 0 or 1, "
                            f"got {labels[i].as_py()!r}"
                        )
                    yield self.featurizer.featurize(table, w, row, f"{path}", rows)
                    row += table.num_rows
        except pa.ArrowInvalid as exc:
            raise DataError(f"{path}: corrupt Criteo TSV near row {row + 1}: {exc}") from None

    def windows(self, start: int, stop: int, rows: RowSelection | None = None) -> Iterator[Window]:
        for w in range(start, stop):
            yield Window(w, self.files[w].name, lambda w=w: self._read(w, rows))  # type: ignore[misc]


# --------------------------------------------------------------------------- river synth


@dataclass
class SynthSpec:
    """``synth:NAME?windows=30&window_rows=2000&seed=7&stratum=FEATURE``."""

    name: str
    windows: int = 30
    window_rows: int = 2000
    seed: int = 7
    stratum: str | None = None


SYNTH_NAMES = ("hyperplane", "sea", "agrawal", "stagger", "sine")


def _synth_generator(spec: SynthSpec) -> tuple[Any, list[str]]:
    """A river generator with drift, and which of its features are categorical."""
    from river.datasets import synth

    n = spec.windows * spec.window_rows
    mid, width = n // 2, max(1, n // 10)
    s = spec.seed
    a: Any
    b: Any
    if spec.name == "hyperplane":
        gen = synth.Hyperplane(
            seed=s, n_features=10, n_drift_features=5, mag_change=0.001, noise_percentage=0.05
        )
        return gen, []
    if spec.name == "sea":
        a, b = (
            synth.SEA(variant=0, seed=s, noise=0.05),
            synth.SEA(variant=2, seed=s + 1, noise=0.05),
        )
        return synth.ConceptDriftStream(a, b, seed=s, position=mid, width=width), []
    if spec.name == "agrawal":
        a = synth.Agrawal(classification_function=0, seed=s, perturbation=0.05)
        b = synth.Agrawal(classification_function=2, seed=s + 1, perturbation=0.05)
        drift = synth.ConceptDriftStream(a, b, seed=s, position=mid, width=width)
        return drift, ["elevel", "car", "zipcode"]
    if spec.name == "stagger":
        a = synth.STAGGER(classification_function=0, seed=s)
        b = synth.STAGGER(classification_function=2, seed=s + 1)
        drift = synth.ConceptDriftStream(a, b, seed=s, position=mid, width=width)
        return drift, ["size", "color", "shape"]
    if spec.name == "sine":
        a, b = (
            synth.Sine(classification_function=0, seed=s),
            synth.Sine(classification_function=1, seed=s),
        )
        return synth.ConceptDriftStream(a, b, seed=s, position=mid, width=width), []
    raise ConfigError(
        f"synth dataset: unknown generator {spec.name!r}; known: {', '.join(SYNTH_NAMES)}"
    )


class SynthSource:
    """A ``river.datasets.synth`` drift stream, windows of a fixed number of rows."""

    def __init__(self, spec: SynthSpec) -> None:
        self.spec = spec
        self.name = f"synth:{spec.name}"
        self.num_windows = spec.windows
        gen, cats = _synth_generator(spec)
        first_x, _ = next(iter(gen))
        # Some generators (sea, hyperplane) key features by int; columns are named by strings.
        feats = [str(f) for f in first_x]
        cat_names = {str(c) for c in cats}
        self._cats = [f for f in feats if f in cat_names]
        self._nums = [f for f in feats if f not in cat_names]
        if spec.stratum is not None and spec.stratum not in feats:
            raise ConfigError(
                f"synth dataset: stratum feature {spec.stratum!r} not found; "
                f"available: {', '.join(feats)}"
            )
        self.categorical_names = self._cats
        self.numeric_names = self._nums
        self.has_strata = spec.stratum is not None
        self.featurizer = Featurizer(self._cats, self._nums, "y", spec.stratum)

    def describe(self) -> dict[str, Any]:
        return {"kind": "synth", **vars(self.spec)}

    def windows(self, start: int, stop: int, rows: RowSelection | None = None) -> Iterator[Window]:
        gen, _ = _synth_generator(self.spec)
        it = iter(gen)
        per_window = self.spec.window_rows
        for _ in range(start * per_window):
            next(it)
        for w in range(start, min(stop, self.num_windows)):
            xs, ys = [], []
            for _ in range(per_window):
                x, y = next(it)
                xs.append(x)
                ys.append(float(y))
            cols: dict[str, Any] = {str(k): [x[k] for x in xs] for k in xs[0]}
            cols["y"] = ys
            table = pa.table(cols)
            batches = _chunked(table, self.featurizer, w, f"{self.name} window {w}", rows)
            yield Window(w, f"w{w}", _in_memory(batches))
