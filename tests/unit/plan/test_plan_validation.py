"""The BIA, governance and backup data are validated like the topology: every problem names the
file, the line and the field; the command exits 1 with a message, never a traceback.

Table-driven: a case is one edit of a copy of the committed data, with the field and message
expected and the text that marks the line."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from plan_estate import Estate

from drctl.cli import main
from drctl.errors import ConfigError


@dataclass(frozen=True)
class Case:
    file: str
    old: str
    new: str
    field: str
    message: str
    marker: str  # the (first) line holding this text is the line the problem names


CASES = {
    "bia-unknown-system": Case(
        "bia.yaml", "- system: crm", "- system: erp", "systems[1].system",
        "unknown system 'erp'", "- system: erp",
    ),
    "bia-duplicate-system": Case(
        "bia.yaml", "- system: crm", "- system: ecm", "systems[1].system",
        "duplicate 'ecm'", "- system: ecm\n    business_functions:\n      - \"iNeed",
    ),
    "bia-not-a-number": Case(
        "bia.yaml", "mtd_seconds: 14400  # 4 h", "mtd_seconds: four hours",
        "systems[0].mtd_seconds", "Input should be a valid number", "mtd_seconds: four hours",
    ),
    "bia-unknown-classification": Case(
        "bia.yaml", "classification: mission-critical", "classification: vital",
        "systems[0].classification", "Input should be 'mission-critical', 'critical' or "
        "'non-critical'", "classification: vital",
    ),
    "bia-classification-disagrees-with-tier": Case(
        "bia.yaml", "classification: mission-critical", "classification: critical",
        "systems[0].classification", "critical disagrees with the topology: ecm is in tier 1 "
        "(mission-critical)", "classification: critical",
    ),
    "bia-impacts-out-of-order": Case(
        "bia.yaml", "after_hours: 4", "after_hours: 0.5", "systems[0].impact",
        "list impacts by increasing after_hours", "    impact:",
    ),
    "bia-unknown-key": Case(
        "bia.yaml", "    wrt_seconds: 1800", "    wrt_seconds: 1800\n    owner: nobody",
        "systems[0].owner", "unknown key", "owner: nobody",
    ),
    "bia-malformed-yaml": Case(
        "bia.yaml", "  - system: crm\n", "  - system: [crm\n", "",
        "malformed YAML", "business_functions:\n      - \"iNeed",
    ),
    "governance-team-of-unknown-site": Case(
        "governance.yaml", "  geneva:\n    members:", "  genf:\n    members:", "teams.genf",
        "unknown site 'genf'", "  genf:",
    ),
    "governance-bad-email": Case(
        "governance.yaml", "email: paolo.greco@un.example", "email: paolo.greco",
        "teams.brindisi.members[1].email", "String should match pattern",
        "email: paolo.greco\n",
    ),
    "governance-bad-date": Case(
        "governance.yaml", "last_review: 2026-11-18", "last_review: last week",
        "document.last_review", "Input should be a valid date", "last_review: last week",
    ),
    "governance-missing-section": Case(
        "governance.yaml", "\nglossary:", "\nglosary:", "glosary", "unknown key", "glosary:",
    ),
    "governance-waiver-for-a-trigger-that-cannot-be-waived": Case(
        "governance.yaml", "trigger: drill_overdue", "trigger: plan_differs",
        "waivers[0].trigger", "Input should be 'drill_overdue', 'drill_missed_objective' or "
        "'topology_changed_since_drill'", "trigger: plan_differs",
    ),
    "governance-waiver-for-an-unknown-system": Case(
        "governance.yaml", "systems: [ecm, crm]", "systems: [ecm, erp]", "waivers[0].systems[1]",
        "unknown system 'erp'", "systems: [ecm, erp]",
    ),
    "governance-waiver-expires-before-granted": Case(
        "governance.yaml", "expires: 2027-02-15", "expires: 2026-01-01", "waivers[0].expires",
        "expires before it is granted", "expires: 2026-01-01",
    ),
    "backups-repository-at-unknown-site": Case(
        "backups.yaml", "site: valencia", "site: madrid", "systems[0].repositories[0].site",
        "unknown site 'madrid'", "site: madrid",
    ),
}  # fmt: skip


def line_of(text: str, marker: str) -> int:
    return text[: text.index(marker)].count("\n") + 1


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_invalid_data_names_file_line_and_field(estate: Estate, case: Case) -> None:
    estate.edit(case.file, case.old, case.new)
    path = estate.file(case.file)
    with pytest.raises(ConfigError) as raised:
        estate.render()
    line = line_of(path.read_text(encoding="utf-8"), case.marker)
    where = f"{path}:{line}: " + (f"{case.field}: " if case.field else "")
    assert any(str(p).startswith(where + case.message) for p in raised.value.problems), (
        f"expected {where}{case.message}…, got:\n{raised.value}"
    )


def test_every_invalid_file_is_reported_at_once(estate: Estate) -> None:
    estate.edit("bia.yaml", "- system: crm", "- system: erp")
    estate.edit("governance.yaml", "email: paolo.greco@un.example", "email: paolo.greco")
    estate.edit("backups.yaml", "site: valencia", "site: madrid")
    with pytest.raises(ConfigError) as raised:
        estate.assess()
    files = {p.path.name for p in raised.value.problems}
    assert files == {"bia.yaml", "governance.yaml", "backups.yaml"}


def test_invalid_journal_is_named(estate: Estate) -> None:
    (estate.paths.journals / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.json: not a valid drill journal"):
        estate.render()


@pytest.mark.parametrize("action", ["render", "check"])
def test_cli_exits_1_with_a_message_not_a_traceback(
    estate: Estate, action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    estate.edit("bia.yaml", "mtd_seconds: 14400  # 4 h", "mtd_seconds: four hours")
    p = estate.paths
    args = ["plan", action, "--out", str(p.plan), "--topology", str(p.topology)]
    args += ["--data", str(p.data), "--journals", str(p.journals), "--runbooks", str(p.runbooks)]
    args += ["--catalogue", str(p.catalogue)]
    assert main(args) == 1
    err = capsys.readouterr().err
    line = line_of(estate.file("bia.yaml").read_text(encoding="utf-8"), "four hours")
    assert err.startswith(f"drctl: error: {p.data / 'bia.yaml'}:{line}: systems[0].mtd_seconds: ")
    assert "Traceback" not in err
