"""The Prometheus endpoint of a real trainer process agrees with its final JSON."""

from __future__ import annotations

import math
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.trainer.helpers import read_json, run_until_done


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_scraped_metrics_match_final_json(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    text = run_until_done(
        out,
        HS_DATASET=str(tiny),
        HS_DATA_RATE="0.5",
        HS_DATA_SAMPLING="negatives",
        HS_DATA_START="1",
        HS_TRIAL="t-7",
        HS_PARAM_model="fm",
    )
    res = read_json(out)
    m = samples(text)
    assert m[("hypersearch_trainer_train_examples_total", ())] == res["examples_trained"]
    assert m[("hypersearch_trainer_position", ())] == 6.0
    assert m[("hypersearch_trainer_windows_total", ())] == 6.0
    all_ = (("stratum", "all"),)
    assert m[("hypersearch_trainer_eval_examples_total", all_)] == res["examples_evaluated"]
    assert m[("hypersearch_trainer_eval_loss_count", all_)] == res["examples_evaluated"]
    loss_sum = sum(w["loss_sum"] for w in res["windows"])
    assert math.isclose(m[("hypersearch_trainer_eval_loss_sum", all_)], loss_sum, rel_tol=1e-9)
    assert [w["window"] for w in res["windows"]] == [1, 2, 3, 4, 5]
    for w in res["windows"]:
        key = str(w["window"])
        for metric in ("logloss", "auc"):
            lbl = (("metric", metric), ("stratum", "all"), ("window", key))
            assert math.isclose(m[("hypersearch_trainer_window_metric", lbl)], w[metric])
        lbl2 = (("stratum", "all"), ("window", key))
        assert m[("hypersearch_trainer_window_examples", lbl2)] == w["examples"]
        for st, sr in w["strata"].items():
            lbl = (("metric", "logloss"), ("stratum", st), ("window", key))
            assert math.isclose(m[("hypersearch_trainer_window_metric", lbl)], sr["logloss"])
            lbl2 = (("stratum", st), ("window", key))
            assert m[("hypersearch_trainer_window_examples", lbl2)] == sr["examples"]
    strata_total = sum(
        v for (name, lbl), v in m.items()
        if name == "hypersearch_trainer_eval_examples_total" and lbl != all_
    )  # fmt: skip
    assert strata_total == res["examples_evaluated"]
    # target = mean of the last 7 (here: all 5) windows
    lls = [w["logloss"] for w in res["windows"]]
    assert math.isclose(res["target"]["logloss"], sum(lls) / len(lls))
    assert res["status"] == "completed" and res["trial"] == "t-7"
    assert res["parameters"]["model"] == "fm" and res["data"]["rate"] == 0.5
    info = [k for k in m if k[0] == "hypersearch_trainer_info"]
    assert info and ("trial", "t-7") in info[0][1]


def test_only_the_recent_windows_are_served_so_the_body_stays_bounded() -> None:
    """365 windows x 32 strata: the body holds the last 64 windows (HS_METRICS_WINDOWS default)
    and stays far below the scraper's 4 MiB limit; the counters still cover every window."""
    from hypersearch_trainer.config import RunConfig
    from hypersearch_trainer.exporter import TrainerMetrics
    from hypersearch_trainer.metrics import StratumResult, WindowResult
    from prometheus_client import CollectorRegistry, generate_latest

    m = TrainerMetrics(365, RunConfig(dataset="x").metrics_windows)
    for w in range(365):
        strata = {f"s{k:02d}": StratumResult(200, 90.0, 0.45, 0.71) for k in range(32)}
        m.add_window(WindowResult(w, f"w{w}", 6400, 50, 2880.0, 0.45, 0.71, strata=strata))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(m)
    body = generate_latest(registry)
    assert len(body) < 1024 * 1024, len(body)
    got = samples(body.decode())
    windows = {int(dict(k[1])["window"]) for k in got if k[0].endswith("_window_examples")}
    assert windows == set(range(365 - 64, 365))
    assert got[("hypersearch_trainer_eval_examples_total", (("stratum", "all"),))] == 365 * 6400
