"""deploy/prometheus: promtool checks the rules and runs their unit tests; every
series a rule reads is one the services expose; every alert has a runbook entry."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.metric_names import every_exposed_name, names_read_by

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "deploy" / "prometheus" / "concierge-rules.yml"
RULE_TESTS = REPO / "deploy" / "prometheus" / "concierge-rules.test.yml"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _promtool() -> str:
    found = shutil.which("promtool", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    if found is None:
        reason = "promtool not installed: run scripts/install-promtool.sh"
        if IN_CI:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return found


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout


def test_the_rules_unit_tests_pass() -> None:
    result = subprocess.run(
        [_promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tested = {
        case["alertname"]
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    }
    assert len(tested) >= 2


def test_the_alerts_stage_down_lag_dead_letters_restarts_stalls_and_latency_exist() -> None:
    alerts = {rule["alert"] for rule in _rules() if "alert" in rule}
    assert {
        "ConciergeServiceDown",
        "ConciergeConsumerLagGrowing",
        "ConciergeDeadLetterRateHigh",
        "ConciergeRestarting",
        "ConciergePartitionStalled",
        "ConciergeDecisionLatencyHigh",
    } <= alerts


def test_every_series_a_rule_reads_is_exposed_or_recorded() -> None:
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    exposed = every_exposed_name()
    for rule in _rules():
        read = names_read_by(rule["expr"]) | (set(re.findall(r"concierge:[a-z_:]+", rule["expr"])))
        assert read, rule["expr"]
        assert read <= exposed | recorded, (rule.get("alert") or rule["record"], read)


def test_every_alert_has_a_runbook_entry_its_annotation_links_to() -> None:
    operations = (REPO / "docs" / "operations.md").read_text()
    headings = {
        line.removeprefix("### ").strip()
        for line in operations.splitlines()
        if line.startswith("### ")
    }
    for rule in _rules():
        if "alert" not in rule:
            continue
        assert rule["alert"] in headings, f"docs/operations.md has no '### {rule['alert']}'"
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{rule['alert'].lower()}"
