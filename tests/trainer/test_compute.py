"""The cost counters: what the trainer reports is what the operating system says it used."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.trainer.helpers import (
    REPO,
    free_port,
    make_stream,
    read_json,
    scrape,
    trainer_env,
    wait_for,
    write_yaml,
)


def test_cpu_seconds_equal_what_the_process_used(tmp_path: Path) -> None:
    make_stream(tmp_path / "s.parquet", days=6, rows_per_day=4000)
    ds = write_yaml(tmp_path / "s.yaml", "s.parquet")
    port, out = free_port(), tmp_path / "r.json"
    env = trainer_env(HS_DATASET=str(ds), HS_RESULT_FILE=str(out), HS_METRICS_PORT=str(port),
                      HS_METRICS_HOST="127.0.0.1", HS_METRICS_LINGER="60",
                      HS_PARAM_model="dlrm", HS_PARAM_batch_size="16")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "hypersearch_trainer"], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for(out.exists, timeout=300)
        text = scrape(port)  # lingering after the run: the counter is still served
    finally:
        proc.terminate()
        _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    used = usage.ru_utime + usage.ru_stime  # the kernel's account of the whole process
    result = read_json(out)
    reported = result["cpu_seconds"]
    # The result is written before the process winds down (server shutdown, interpreter exit),
    # so it may miss a little at the end, never more than it used.
    assert reported <= used + 0.05
    assert reported >= 0.8 * used, (reported, used)
    exported = float(re.search(r"^hypersearch_trainer_cpu_seconds_total (\S+)$", text, re.M)[1])  # type: ignore[index]
    assert reported <= exported <= used + 0.05
    cumulative = [w["cpu_seconds"] for w in result["windows"]]
    assert cumulative == sorted(cumulative) and cumulative[-1] <= reported
    assert all(w["eval_cpu_seconds"] > 0 for w in result["windows"])
    assert result["gpu_seconds"] == 0.0 and "hypersearch_trainer_gpu_seconds_total 0.0" in text
