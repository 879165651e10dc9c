"""The state directory across upgrades and damage: ``--resume`` accepts a state written before a
spec field was added, and a corrupt ``state.json`` is a clear error naming the file."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypersearch.local.runner import LocalRunner, RunError, RunOptions
from hypersearch.local.state import (
    STATE_FILE,
    StateFileError,
    _legacy_digest,
    digest_matches,
    load_state,
    spec_digest,
)
from hypersearch.spec import parse
from hypersearch.spec.model import SearchSpec, StoppingSpec

from tests.local.conftest import fake_manifest, run_cli, write_manifest


@dataclasses.dataclass(frozen=True)
class HealthSpec:
    """A spec section a later version might add, every field defaulted."""

    startup_seconds: float = 120.0
    progress_seconds: float = 600.0


def upgraded(spec: SearchSpec) -> SearchSpec:
    """``spec`` as a later version would type it: a new defaulted top-level field, a new
    section without a top-level default, and a new defaulted field inside a section."""
    stopping_cls = dataclasses.make_dataclass(
        "StoppingSpec",
        [("patience", int, dataclasses.field(default=3))],
        bases=(StoppingSpec,),
        frozen=True,
    )
    spec_cls = dataclasses.make_dataclass(
        "SearchSpec",
        [
            ("max_trial_bytes", int, dataclasses.field(default=65536)),
            ("health", HealthSpec, dataclasses.field(kw_only=True)),
        ],
        bases=(SearchSpec,),
        frozen=True,
    )
    values: dict[str, Any] = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
    values["stopping"] = stopping_cls(**dataclasses.asdict(spec.stopping))
    new: SearchSpec = spec_cls(**values, health=HealthSpec())
    return new


def spec_of(**changes: Any) -> SearchSpec:
    return parse(fake_manifest("state", **changes))


def test_adding_a_defaulted_spec_field_keeps_the_digest() -> None:
    spec = spec_of()
    assert spec_digest(upgraded(spec)) == spec_digest(spec)
    # ... but a field set to something else than its default is part of it.
    other = dataclasses.replace(upgraded(spec), health=HealthSpec(startup_seconds=5.0))  # type: ignore[call-arg]
    assert spec_digest(other) != spec_digest(spec)


def test_the_digest_follows_the_search_not_its_spelling_or_parallelism() -> None:
    spec = spec_of()
    assert spec_digest(dataclasses.replace(spec, parallelism=7, stage2_parallelism=3)) == (
        spec_digest(spec)
    )
    as_floats = spec_of(parameters=[{"name": "x", "type": "double", "min": 0, "max": 1}])
    assert spec_digest(as_floats) == spec_digest(spec)  # min: 0 is min: 0.0
    for changed in (spec_of(seed=4), spec_of(trials=5), spec_of(stage2={"topK": 2})):
        assert spec_digest(changed) != spec_digest(spec)
    assert spec_digest(dataclasses.replace(spec, name="other")) != spec_digest(spec)


def test_a_state_written_with_the_old_digest_is_still_recognised() -> None:
    spec = spec_of()
    assert digest_matches(_legacy_digest(spec), spec)
    assert digest_matches(spec_digest(spec), spec)
    assert not digest_matches(spec_digest(spec_of(seed=4)), spec)
    assert not digest_matches(None, spec)


def test_resume_after_an_upgrade_that_adds_a_spec_field(tmp_path: Path) -> None:
    """A state saved by one version is resumed by a later one whose spec has more fields."""
    spec = spec_of()
    before = LocalRunner(spec, RunOptions(tmp_path, progress=False, report=False))
    before.save()
    after = LocalRunner(
        upgraded(spec), RunOptions(tmp_path, resume=True, progress=False, report=False)
    )
    assert after.search.to_state() == before.search.to_state()
    with pytest.raises(RunError, match="different spec"):
        LocalRunner(spec_of(seed=4), RunOptions(tmp_path, resume=True, progress=False))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('{"version": 1, "engine": {', "not valid JSON"),  # cut short (a full disk)
        ("", "not valid JSON"),
        ("[1, 2]", "not an object"),
        (b"\xff\xfe{}", "cannot read"),
    ],
)
def test_a_corrupt_state_file_is_an_error_naming_the_file(
    tmp_path: Path, content: str | bytes, says: str
) -> None:
    path = tmp_path / STATE_FILE
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(StateFileError, match=says) as caught:
        load_state(tmp_path)
    assert str(path) in str(caught.value)


def test_a_state_file_that_is_not_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).mkdir()
    with pytest.raises(StateFileError, match="cannot read") as caught:
        load_state(tmp_path)
    assert str(tmp_path / STATE_FILE) in str(caught.value)
    assert load_state(tmp_path / "empty") is None


@pytest.mark.parametrize("resume", [True, False])
def test_run_with_a_corrupt_state_file_exits_2_naming_it(tmp_path: Path, resume: bool) -> None:
    manifest = write_manifest(tmp_path / "search.yaml", fake_manifest("corrupt"))
    state_dir = tmp_path / "out"
    state_dir.mkdir()
    (state_dir / STATE_FILE).write_text('{"version": 1, "engi')
    args = ["run", str(manifest), "--state-dir", str(state_dir), "--quiet"]
    r = run_cli(*args, *(["--resume"] if resume else []), timeout=120)
    assert r.returncode == 2, r.stderr
    assert f"{state_dir / STATE_FILE}: the saved search is corrupt" in r.stderr
    assert "Traceback" not in r.stderr
