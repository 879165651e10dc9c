"""Prepared data: a dataset decoded, featurised and hashed once, so a run at rate s reads about s.

Without it every trial reads, decodes and hashes the whole stream whatever its rate, which made
a 1% trial cost a third of a full one. Layout under a root (a local directory, or an
``s3://bucket/prefix`` URL read through pyarrow's filesystems):

    ROOT/<name>-<fingerprint>/manifest.json   written last: its presence means complete
    ROOT/<name>-<fingerprint>/w000012.arrow   one Arrow IPC file per window

A window's file holds its featurised rows in record batches by label class and by bucket of the
sampling hash (``Sampler.uniform``), positives first: a run reads the buckets below its rate
(and every positive under negative sampling), then keeps exactly the rows the unprepared path
would keep, in time order. The fingerprint covers the dataset description and its source files,
the trainer's featurisation code and the seed (the hash depends on it): different data is a
different directory, never mixed in. Shards are written into a private temporary directory that
is renamed (or, on S3, uploaded with the manifest last) only when complete, so an interrupted
preparation leaves nothing a run could take for complete, and two preparers never corrupt each
other's files.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from hypersearch_trainer.errors import ConfigError, DataError
from hypersearch_trainer.features import Batch
from hypersearch_trainer.sampling import RowSelection, Sampler
from hypersearch_trainer.sources import CHUNK_ROWS, Source, Window

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# Hash buckets of a window file: a run at rate s reads the buckets starting below s.
BUCKETS = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
# The modules whose code decides what a prepared row holds.
_CODE = ("features.py", "hashing.py", "expr.py", "sources.py", "sampling.py", "prepared.py")


def code_version() -> str:
    """Hash of the featurisation code: a trainer that featurises differently never reuses shards."""
    h = hashlib.sha256()
    for name in _CODE:
        h.update((Path(__file__).parent / name).read_bytes())
    return h.hexdigest()[:16]


def fingerprint(source: Source, seed: int) -> dict[str, Any]:
    """Everything prepared shards depend on."""
    return {
        "format": FORMAT_VERSION,
        "dataset": source.describe(),
        "trainer": code_version(),
        "seed": seed,
    }


def _digest(fp: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fp, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:60]


class Location:
    """A root for prepared data: a local directory or an object-store URL."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.remote = "://" in root
        try:
            if self.remote:
                self.fs, self.path = pafs.FileSystem.from_uri(root)
            else:
                self.fs, self.path = pafs.LocalFileSystem(), str(Path(root).expanduser())
        except (pa.ArrowInvalid, OSError) as exc:
            raise ConfigError(f"HS_PREPARED_DATA={root}: {exc}") from None

    def join(self, *parts: str) -> str:
        return "/".join([self.path.rstrip("/"), *parts])

    def exists(self, path: str) -> bool:
        try:
            return bool(self.fs.get_file_info(path).type == pafs.FileType.File)
        except OSError as exc:
            raise DataError(f"{self.root}: cannot read {path}: {exc}") from None

    def read_text(self, path: str) -> str:
        with self.fs.open_input_stream(path) as fh:
            return bytes(fh.read()).decode()

    def open(self, path: str) -> Any:
        if not self.remote:
            return pa.memory_map(path)  # zero copy: only the pages of the read buckets are touched
        return self.fs.open_input_file(path)


# --------------------------------------------------------------------------- writing


def _window_batches(
    batches: list[Batch], seed: int
) -> tuple[pa.Schema, list[pa.RecordBatch], list[dict[str, Any]]]:
    """A window's rows as record batches by (label class, hash bucket), and their index."""
    b = Batch.concat(batches) if batches else None
    cols: dict[str, Any] = {}
    if b is not None and len(b):
        cols["example_id"] = pa.array(b.example_ids)
        cols["label"] = pa.array(b.labels)
        for j in range(b.cat_keys.shape[1]):
            cols[f"c{j}"] = pa.array(np.ascontiguousarray(b.cat_keys[:, j]))
        for j in range(b.numeric.shape[1]):
            cols[f"n{j}"] = pa.array(np.ascontiguousarray(b.numeric[:, j]))
        if b.strata is not None:
            cols["stratum"] = pa.array(b.strata.astype(object), pa.string())
        u = Sampler(seed=seed).uniform(b.example_ids)
        positive = b.labels > 0.5
    table = pa.table(cols) if cols else pa.table({"example_id": pa.array([], pa.int64())})
    out, index = [], []
    if cols:
        for cls in (True, False):
            for lo, hi in itertools.pairwise(BUCKETS):
                rows = np.nonzero((positive == cls) & (u >= lo) & (u < hi))[0]
                if len(rows):
                    out.extend(table.take(pa.array(rows)).to_batches(max_chunksize=len(rows)))
                    index.append({"positive": cls, "lo": lo, "hi": hi, "rows": len(rows)})
    return table.schema, out, index


def _write_shards(source: Source, seed: int, fp: dict[str, Any], directory: Path) -> None:
    windows = []
    for window in source.windows(0, source.num_windows):
        schema, batches, index = _window_batches(list(window.batches()), seed)
        name = f"w{window.index:06d}.arrow"
        with pa.OSFile(str(directory / name), "wb") as sink, pa.ipc.new_file(sink, schema) as out:
            for rb in batches:
                out.write_batch(rb)
        size = (directory / name).stat().st_size
        windows.append({"file": name, "label": window.label, "bytes": size, "batches": index})
    manifest = {
        "fingerprint": fp,
        "name": source.name,
        "num_windows": source.num_windows,
        "categorical": list(source.categorical_names),
        "numeric": list(source.numeric_names),
        "has_strata": source.has_strata,
        "windows": windows,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")


def prepare(source: Source, seed: int, root: str) -> str:
    """Prepare ``source`` under ``root`` unless already there; returns the prepared directory."""
    loc = Location(root)
    fp = fingerprint(source, seed)
    name = f"{_safe_name(source.name)}-{_digest(fp)}"
    final = loc.join(name)
    if loc.exists(loc.join(name, MANIFEST)):
        return final
    if loc.remote:
        with tempfile.TemporaryDirectory(prefix="hs-prepare-") as tmp:
            _write_shards(source, seed, fp, Path(tmp))
            files = sorted(p.name for p in Path(tmp).iterdir() if p.name != MANIFEST)
            for f in [*files, MANIFEST]:  # the manifest last: it says the rest is there
                pafs.copy_files(str(Path(tmp) / f), loc.join(name, f),
                                source_filesystem=pafs.LocalFileSystem(),
                                destination_filesystem=loc.fs)  # fmt: skip
        return final
    base = Path(loc.path)
    base.mkdir(parents=True, exist_ok=True)
    with _lock(base / f".{name}.lock"):  # one preparer at a time; the others then reuse its work
        if (base / name / MANIFEST).is_file():
            return final
        work = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=base))
        try:
            _write_shards(source, seed, fp, work)
            try:
                os.rename(work, base / name)
            except OSError:  # someone else finished first (another machine on a shared volume)
                if not (base / name / MANIFEST).is_file():
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return final


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- reading


class PreparedSource:
    """Reads the windows of prepared data; the same rows, features and ids as the raw source."""

    def __init__(self, loc: Location, directory: str, expected: dict[str, Any]) -> None:
        self.loc = loc
        self.directory = directory
        where = f"{directory}/{MANIFEST}"
        try:
            manifest = json.loads(loc.read_text(where))
        except (OSError, ValueError) as exc:
            raise DataError(f"prepared data {where}: unreadable manifest: {exc}") from None
        saved = manifest.get("fingerprint", {})
        if saved != expected:
            diff = sorted(k for k in set(saved) | set(expected) if saved.get(k) != expected.get(k))
            raise ConfigError(
                f"prepared data {directory} was made from a different {', '.join(diff)} "
                "than this run's (dataset description, trainer version or seed); prepare it again "
                "or point HS_PREPARED_DATA at the root, where each fingerprint has its own directory"
            )
        self.manifest = manifest
        self.name = str(manifest["name"])
        self.num_windows = int(manifest["num_windows"])
        self.categorical_names = list(manifest["categorical"])
        self.numeric_names = list(manifest["numeric"])
        self.has_strata = bool(manifest["has_strata"])
        self._fp = expected

    def describe(self) -> dict[str, Any]:
        return dict(self._fp["dataset"])

    def windows(self, start: int, stop: int, rows: RowSelection | None = None) -> Iterator[Window]:
        for w in range(start, min(stop, self.num_windows)):
            entry = self.manifest["windows"][w]
            yield Window(w, entry["label"], lambda w=w: self._read(w, rows))  # type: ignore[misc]

    def _read(self, w: int, rows: RowSelection | None) -> Iterator[Batch]:
        entry = self.manifest["windows"][w]
        path = f"{self.directory}/{entry['file']}"
        where = f"prepared shard {path} (window {w})"
        bound = 1.0 if rows is None else rows.bound(w)
        positives = rows is not None and rows.all_positives
        wanted = [
            i
            for i, b in enumerate(entry["batches"])
            if b["lo"] < bound or (positives and b["positive"])
        ]
        if not wanted:
            return
        try:
            size = self.loc.fs.get_file_info(path).size
            if size != entry["bytes"]:
                raise DataError(
                    f"{where}: {size} bytes where the manifest says {entry['bytes']}: "
                    "truncated or replaced; prepare the data again"
                )
            reader = pa.ipc.open_file(self.loc.open(path))
            if reader.num_record_batches != len(entry["batches"]):
                raise DataError(f"{where}: holds {reader.num_record_batches} record batches, "
                                f"the manifest {len(entry['batches'])}")  # fmt: skip
            table = pa.Table.from_batches([reader.get_batch(i) for i in wanted])
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{where}: corrupt shard: {exc}") from None
        ids = table.column("example_id").to_numpy()
        labels = table.column("label").to_numpy()
        keep = np.ones(len(ids), dtype=bool) if rows is None else rows(w, ids, labels)
        order = np.nonzero(keep)[0]
        order = order[np.argsort(ids[order], kind="stable")]  # time order within the window
        for lo in range(0, len(order), CHUNK_ROWS):
            yield self._batch(table, order[lo : lo + CHUNK_ROWS])

    def _batch(self, table: pa.Table, rows: np.ndarray[Any, Any]) -> Batch:
        part = table.take(pa.array(rows))
        n_cat, n_num = len(self.categorical_names), len(self.numeric_names)
        cats = np.empty((len(rows), n_cat), dtype=np.uint64)
        for j in range(n_cat):
            cats[:, j] = part.column(f"c{j}").to_numpy()
        nums = np.empty((len(rows), n_num), dtype=np.float32)
        for j in range(n_num):
            nums[:, j] = part.column(f"n{j}").to_numpy()
        strata = None
        if self.has_strata:
            strata = np.asarray(
                part.column("stratum").to_numpy(zero_copy_only=False), dtype=np.str_
            )
        labels = np.array(part.column("label").to_numpy(), dtype=np.float32)  # writable copies
        ids = np.array(part.column("example_id").to_numpy(), dtype=np.int64)
        return Batch(cats, nums, labels, ids, strata)


def open_prepared(source: Source, root: str, seed: int) -> PreparedSource:
    """The prepared form of ``source`` under ``root``, preparing it first when missing.

    ``root`` may also be one prepared directory itself (holding a manifest): it is then checked
    against this run's fingerprint, and a mismatch is an error naming what differs.
    """
    loc = Location(root)
    fp = fingerprint(source, seed)
    if loc.exists(loc.join(MANIFEST)):
        return PreparedSource(loc, loc.path.rstrip("/"), fp)
    directory = prepare(source, seed, root)
    return PreparedSource(loc, directory, fp)
