"""The alert rules (monitoring/rules/*.yml): valid for promtool, and every alert has a promtool
unit test (monitoring/rules/tests/*_test.yml) that passes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from drctl import REPO_ROOT

RULES = REPO_ROOT / "monitoring" / "rules"
RULE_FILES = sorted(RULES.glob("*.yml"))
TEST_FILES = sorted((RULES / "tests").glob("*_test.yml"))
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian package: prometheus)"
)


def _promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *map(str, args)], capture_output=True, text=True, cwd=RULES, timeout=120
    )


def _rules(path: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


@needs_promtool
def test_promtool_check_rules() -> None:
    result = _promtool("check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_test_rules(test_file: Path) -> None:
    result = _promtool("test", "rules", test_file)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested() -> None:
    alerts = {r["alert"] for path in RULE_FILES for r in _rules(path) if "alert" in r}
    tested: set[str] = set()
    for path in TEST_FILES:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in doc["tests"]:
            tested |= {t["alertname"] for t in case.get("alert_rule_test", [])}
    assert alerts - tested == set()
    assert alerts >= {
        "DrctlReplicationLagHigh",
        "DrctlSiteDown",
        "DrctlTier1DrillOverdue",
        "DrctlDrillRtoOverObjective",
        "DrctlDrillRpoOverObjective",
        "DrctlPlanStale",
        "DrctlBackupTooOld",
        "DrctlFrontDoorOnSecondary",
    }


def test_every_rule_file_has_a_test_file() -> None:
    assert {p.stem for p in RULE_FILES} == {p.stem.removesuffix("_test") for p in TEST_FILES}


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_every_alert_says_how_bad_and_what_happened(path: Path) -> None:
    for rule in _rules(path):
        if "alert" in rule:
            assert rule["alert"].startswith("Drctl")
            assert rule["labels"]["severity"] in ("critical", "warning")
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        else:
            assert rule["record"].startswith("drctl:")
