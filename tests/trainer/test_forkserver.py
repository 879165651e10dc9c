"""The fork server: a trial forked from a warm process is the same trial, costs less, obeys
signals through its client, dies with it, and the server goes away when idle."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.trainer.helpers import (
    REPO,
    free_port,
    make_stream,
    read_json,
    run_trainer,
    start_trainer,
    trainer_env,
    wait_for,
    write_yaml,
)

IDLE = "3"
COMPUTE = ("cpu_seconds", "gpu_seconds", "eval_cpu_seconds", "wall_time_s", "examples_per_s")


@pytest.fixture
def stream(tmp_path: Path) -> Path:
    make_stream(tmp_path / "s.parquet", days=8, rows_per_day=3000)
    return write_yaml(tmp_path / "s.yaml", "s.parquet")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, str]]:
    sock = Path("/tmp") / f"hs-test-{tmp_path.name[-20:]}.sock"  # socket paths max out at 107
    yield {"HS_FORKSERVER": str(sock), "HS_FORKSERVER_IDLE_SECONDS": IDLE}
    wait_for(lambda: not sock.exists(), timeout=120)  # the server left after being idle
    for leftover in (f"{sock}.lock", f"{sock}.log"):
        Path(leftover).unlink(missing_ok=True)


def comparable(doc: dict) -> dict:  # type: ignore[type-arg]
    out = {k: v for k, v in doc.items() if k not in COMPUTE}
    out["windows"] = [{k: v for k, v in w.items() if k not in COMPUTE} for w in doc["windows"]]
    return out


def test_a_forked_trial_is_the_same_trial_and_only_the_first_pays_the_imports(
    tmp_path: Path, stream: Path, server: dict[str, str]
) -> None:
    env = {"HS_DATASET": str(stream), "HS_DATA_RATE": "0.1", "HS_PARAM_model": "fm"}
    direct = tmp_path / "direct.json"
    assert run_trainer(HS_RESULT_FILE=str(direct), **env).returncode == 0
    cpu = []
    for i in range(2):
        out = tmp_path / f"forked{i}.json"
        r = run_trainer(HS_RESULT_FILE=str(out), **env, **server)
        assert r.returncode == 0, r.stderr
        assert comparable(read_json(out)) == comparable(read_json(direct))
        cpu.append(read_json(out)["cpu_seconds"])
    # the first trial carries the server's imports (torch: seconds), the second does not
    assert cpu[0] > cpu[1] + 0.5, cpu
    assert cpu[1] < read_json(direct)["cpu_seconds"]


def test_errors_and_exit_codes_come_through_the_client(
    stream: Path, server: dict[str, str]
) -> None:
    r = run_trainer(HS_DATASET=str(stream), HS_DATA_RATE="2", **server)
    assert r.returncode == 2 and "HS_DATA_RATE" in r.stderr


def test_sigterm_to_the_client_stops_the_trial_at_a_safe_point(
    tmp_path: Path, stream: Path, server: dict[str, str]
) -> None:
    out = tmp_path / "r.json"
    p = start_trainer(HS_DATASET=str(stream), HS_RESULT_FILE=str(out), HS_PARAM_model="dlrm",
                      HS_PARAM_batch_size="4", HS_CHECKPOINT_DIR=str(tmp_path / "ck"),
                      **server)  # fmt: skip
    assert p.stderr is not None
    for line in p.stderr:
        if "window 1 (" in line:
            break
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=30) == 0
    assert read_json(out)["status"] == "interrupted"


def test_a_killed_client_takes_its_trial_with_it(
    tmp_path: Path, stream: Path, server: dict[str, str]
) -> None:
    port = free_port()
    env = trainer_env(HS_DATASET=str(stream), HS_PARAM_model="dlrm", HS_PARAM_batch_size="4",
                      HS_METRICS_PORT=str(port), HS_METRICS_HOST="127.0.0.1", **server)  # fmt: skip
    p = subprocess.Popen([sys.executable, "-m", "hypersearch_trainer"], env=env, cwd=REPO,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def serving() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    wait_for(serving, timeout=120)  # the forked trial is up
    p.kill()
    p.wait()
    wait_for(lambda: not serving(), timeout=30)  # and gone with its client


def test_a_socket_directory_others_can_enter_is_refused(tmp_path: Path, stream: Path) -> None:
    shared = tmp_path / "runtime"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)  # a trial sends its environment: never through a directory others share
    r = run_trainer(HS_DATASET=str(stream), HS_FORKSERVER="1", XDG_RUNTIME_DIR=str(shared))
    assert r.returncode == 1
    assert "mode 0700" in r.stderr and str(shared) in r.stderr
