"""promtool (Debian's `prometheus` package, installed by scripts/install-test-deps.sh) on what
Prometheus will read: `check metrics` lints the operator's and the trainer's /metrics as their
processes serve them (names, suffixes, HELP/TYPE consistency); `check rules` validates the
chart's alert rules as rendered (PromQL, templates, duplicates) and `test rules` runs their unit
tests (tests/lint/alert_rules_test.yaml: which series fire which alert, when, with what labels
and text). A missing promtool fails these tests; nothing is skipped."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.lint.dockerfile import REPO
from tests.lint.render import helm_template
from tests.trainer.helpers import (
    make_stream,
    run_until_done,
    write_yaml,
)

HERE = Path(__file__).resolve().parent

# Findings of `promtool check metrics` that are known and not fixed here, with the reason.
# Each entry must still be reported (a fixed one must be removed from this list).
KNOWN_METRICS_FINDINGS = {
    # A gauge (the stream's window count T) named like a counter. It is part of the metrics
    # protocol (docs/design.md §3, docs/trainer.md) that the operator's scraper and users'
    # queries read; renaming it is a protocol change in the trainer and the operator together.
    'hypersearch_trainer_windows_total non-counter metrics should not have "_total" suffix',
}


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool not found: run scripts/install-test-deps.sh (Debian's prometheus)"
    return path


def check_metrics(text: str, families: int) -> None:
    """promtool's findings on an exposition are exactly the known ones."""
    assert text.count("# HELP ") >= families, f"fewer than {families} families:\n{text}"
    run = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True,
                         text=True)  # fmt: skip
    assert run.returncode in (0, 3), run.stderr  # 3: lint findings, reported on stdout/stderr
    found = {line.strip() for line in (run.stdout + run.stderr).splitlines() if line.strip()}
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")}
    known = {f for f in KNOWN_METRICS_FINDINGS if f.split()[0] in names}
    assert found == known, f"promtool check metrics: new {found - known}, fixed {known - found}"


def test_operator_metrics_pass_promtool() -> None:
    """Every collector of the operator, exercised, served by its HTTP server."""
    run = subprocess.run([sys.executable, "-m", "tests.lint.operator_metrics"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "hypersearch_operator_search_phase{" in run.stdout
    check_metrics(run.stdout, families=20)


def test_trainer_metrics_pass_promtool(tmp_path: Path) -> None:
    """A real trainer process on a small stream with strata, scraped once it is done."""
    make_stream(tmp_path / "tiny.parquet")
    dataset = write_yaml(tmp_path / "tiny.yaml", "tiny.parquet")
    text = run_until_done(HS_DATASET=str(dataset), HS_TRIAL="lint-1", HS_PARAM_model="fm")
    assert 'stratum="all"' in text and "hypersearch_trainer_window_metric{" in text
    check_metrics(text, families=10)


def test_alert_rules_pass_promtool_check_and_unit_tests(tmp_path: Path) -> None:
    objs = helm_template(tmp_path, "--set", "prometheusRule.enabled=true", "-s",
                         "templates/prometheusrule.yaml")  # fmt: skip
    (rule,) = objs
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
    check = subprocess.run([promtool(), "check", "rules", "--lint=all", "--lint-fatal",
                            str(rules)], capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    tests = tmp_path / "alert_rules_test.yaml"
    shutil.copy(HERE / "alert_rules_test.yaml", tests)
    # Every alert of the chart has a unit test.
    tested = {t["alertname"] for case in yaml.safe_load(tests.read_text())["tests"]
              for t in case["alert_rule_test"]}  # fmt: skip
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert tested == alerts, f"alerts without a unit test: {alerts - tested}"
    unit = subprocess.run([promtool(), "test", "rules", str(tests)], cwd=tmp_path,
                          capture_output=True, text=True)  # fmt: skip
    assert unit.returncode == 0, unit.stdout + unit.stderr
