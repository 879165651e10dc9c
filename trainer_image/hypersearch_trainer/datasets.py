"""Resolves ``HS_DATASET`` to a source, parses dataset YAML files, and fetches bundled data.

``python -m hypersearch_trainer.datasets fetch flights-3m`` downloads a bundled dataset into the
cache (``$HS_DATA_CACHE``, default ``~/.cache/hypersearch/data``); trial pods never download.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml

from hypersearch_trainer.errors import ConfigError, TrainerError
from hypersearch_trainer.sources import (
    CriteoSource,
    Source,
    SynthSource,
    SynthSpec,
    TabularSource,
    TabularSpec,
)

BUNDLED = ("flights-3m",)
_YAML_KEYS = {
    "name", "path", "fetch", "format", "timestamp", "timestamp_unit", "window", "start", "end",
    "label", "categorical", "numeric", "stratum", "max_strata",
}  # fmt: skip


def data_cache() -> Path:
    """Where fetched datasets live."""
    default = Path.home() / ".cache" / "hypersearch" / "data"
    return Path(os.environ.get("HS_DATA_CACHE", str(default))).expanduser()


def parse_duration(text: str | int | float, what: str) -> float:
    """``1d``, ``6h``, ``30m``, ``90s`` or a number of seconds."""
    if isinstance(text, int | float):
        secs = float(text)
    else:
        m = re.fullmatch(r"\s*([0-9.]+)\s*([dhms]?)\s*", str(text))
        if not m:
            raise ConfigError(f"{what}: cannot parse duration {text!r} (e.g. 1d, 6h, 3600)")
        secs = float(m.group(1)) * {"d": 86400, "h": 3600, "m": 60, "s": 1, "": 1}[m.group(2)]
    if secs <= 0:
        raise ConfigError(f"{what}: duration must be positive, got {text!r}")
    return secs


def _parse_time(value: Any, what: str) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{what}: cannot parse time {value!r} (ISO 8601 expected)") from None


def _bundled_yaml(name: str) -> Path:
    return Path(__file__).with_name(f"{name}.yaml")


def load_yaml_spec(path: Path) -> tuple[TabularSpec, dict[str, Any]]:
    """Parse and check a dataset YAML; returns the spec and the raw mapping."""
    if not path.is_file():
        raise ConfigError(f"dataset YAML {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"dataset YAML {path}: invalid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"dataset YAML {path}: expected a mapping at the top level")
    unknown = sorted(set(raw) - _YAML_KEYS)
    if unknown:
        raise ConfigError(
            f"dataset YAML {path}: unknown key(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_YAML_KEYS))}"
        )
    for key in ("path", "timestamp", "label"):
        if key not in raw:
            raise ConfigError(f"dataset YAML {path}: missing required key {key!r}")
    data_path = str(raw["path"]).replace("${HS_DATA_CACHE}", str(data_cache()))
    file_path = Path(data_path).expanduser()
    if not file_path.is_absolute():
        file_path = path.parent / file_path
    fmt = str(
        raw.get("format") or ("csv" if file_path.suffix.lower() in (".csv", ".gz") else "parquet")
    )
    if fmt not in ("parquet", "csv"):
        raise ConfigError(f"dataset YAML {path}: format must be parquet or csv, got {fmt!r}")

    def str_list(key: str) -> list[str]:
        val = raw.get(key) or []
        if not isinstance(val, list) or not all(isinstance(v, str | int) for v in val):
            raise ConfigError(f"dataset YAML {path}: {key!r} must be a list of column expressions")
        return [str(v) for v in val]

    unit = str(raw.get("timestamp_unit", "s"))
    if unit not in ("s", "ms", "us"):
        raise ConfigError(f"dataset YAML {path}: timestamp_unit must be s, ms or us")
    spec = TabularSpec(
        name=str(raw.get("name") or path.stem),
        path=file_path,
        timestamp=str(raw["timestamp"]),
        label=str(raw["label"]),
        categorical=str_list("categorical"),
        numeric=str_list("numeric"),
        window_seconds=parse_duration(raw.get("window", "1d"), f"dataset YAML {path}: window"),
        start_time=_parse_time(raw.get("start"), f"dataset YAML {path}: start"),
        end_time=_parse_time(raw.get("end"), f"dataset YAML {path}: end"),
        stratum=str(raw["stratum"]) if raw.get("stratum") is not None else None,
        max_strata=int(raw.get("max_strata", 32)),
        file_format=fmt,
        timestamp_unit=unit,
    )
    return spec, raw


def _synth_spec(text: str) -> SynthSpec:
    name, _, query = text.partition("?")
    spec = SynthSpec(name=name)
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)):
        if key in ("windows", "window_rows", "seed"):
            try:
                setattr(spec, key, int(value))
            except ValueError:
                raise ConfigError(
                    f"synth dataset: {key} must be an integer, got {value!r}"
                ) from None
        elif key == "stratum":
            spec.stratum = value
        else:
            raise ConfigError(
                f"synth dataset: unknown option {key!r}; known: windows, window_rows, seed, stratum"
            )
    if spec.windows < 1 or spec.window_rows < 1:
        raise ConfigError("synth dataset: windows and window_rows must be >= 1")
    return spec


def open_dataset(ref: str, index: bool = True) -> Source:
    """``flights-3m`` | ``path/to/dataset.yaml`` | ``criteo:DIR`` | ``synth:NAME[?opts]``.

    ``index=False`` defers a tabular file's pass over its timestamps (and the errors it finds)
    until the windows are needed: a run on prepared data never needs them.
    """
    if not ref:
        raise ConfigError("no dataset given: set HS_DATASET or --dataset")
    if ref.startswith("criteo:"):
        return CriteoSource(Path(ref[len("criteo:") :]).expanduser())
    if ref.startswith("synth:"):
        return SynthSource(_synth_spec(ref[len("synth:") :]))
    if ref in BUNDLED:
        spec, _ = load_yaml_spec(_bundled_yaml(ref))
        if not spec.path.is_file():
            raise ConfigError(
                f"dataset {ref}: {spec.path} not found; fetch it once with "
                f"`python -m hypersearch_trainer.datasets fetch {ref}` (or set HS_DATA_CACHE)"
            )
        return TabularSource(spec, index)
    path = Path(ref).expanduser()
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        spec, _ = load_yaml_spec(path)
        return TabularSource(spec, index)
    raise ConfigError(
        f"dataset {ref!r}: not a bundled name ({', '.join(BUNDLED)}), an existing YAML file, "
        "criteo:DIR or synth:NAME"
    )


def fetch(name: str) -> Path:
    """Download a bundled dataset into the cache with ``npm pack`` (idempotent)."""
    if name not in BUNDLED:
        raise ConfigError(f"unknown bundled dataset {name!r}; known: {', '.join(BUNDLED)}")
    spec, raw = load_yaml_spec(_bundled_yaml(name))
    if spec.path.is_file():
        return spec.path
    fetch_info = raw.get("fetch") or {}
    npm = shutil.which("npm")
    if npm is None:
        raise TrainerError("`npm` is needed to fetch this dataset (apt install npm)")
    spec.path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=spec.path.parent) as tmp:
        subprocess.run(
            [npm, "pack", "--silent", str(fetch_info["npm"])],
            cwd=tmp,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tgz = next(Path(tmp).glob("*.tgz"))
        with tarfile.open(tgz) as tar:
            member = tar.getmember(str(fetch_info["member"]))
            src = tar.extractfile(member)
            assert src is not None
            part = spec.path.with_suffix(".part")
            with part.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            part.replace(spec.path)
    return spec.path


def main(argv: list[str] | None = None) -> int:
    """``fetch NAME`` or ``describe DATASET`` (windows, columns; a quick sanity check)."""
    ap = argparse.ArgumentParser(prog="python -m hypersearch_trainer.datasets")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download a bundled dataset into the cache")
    f.add_argument("name", choices=BUNDLED)
    d = sub.add_parser("describe", help="print the windows and features of a dataset")
    d.add_argument("dataset")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "fetch":
            print(fetch(args.name))
        else:
            src = open_dataset(args.dataset)
            print(f"name: {src.name}\nwindows: {src.num_windows}")
            print(f"categorical: {src.categorical_names}\nnumeric: {src.numeric_names}")
            print(f"strata: {src.has_strata}")
    except TrainerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
