"""One test per update trigger: change a temporary copy of the inputs, see `plan check` fail
naming the trigger, then render (and, for triggers about the estate's state, fix the cause) and
see it pass. Time is fixed (conftest.NOW) unless a test moves it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from plan_estate import NOW, Estate

from drctl.plan import TRIGGERS

NEW_SYSTEM = """  - name: hr
    title: Human resources
    tier: {tier}
    objectives: {{rto_seconds: {rto}, rpo_seconds: {rpo}}}
    depends_on: [ecm]
    recovery_order: 3
    placement: [brindisi, valencia]
    replication: {replication}
    database: {{cluster: hr-db, port: 5434, patroni_port: 8010, router_port: 5002}}
    app: {{port: 8082}}
"""
NEW_BIA = """
  - system: hr
    business_functions: [Payroll and staff records]
    impact:
      - {{after_hours: 8, severity: high, description: Payroll run delayed.}}
    mtd_seconds: 86400
    wrt_seconds: 3600
    minimum_service_level: Staff records readable.
    classification: {classification}
    justification: Pays every staff member.
"""
NEW_BACKUP = """
  - system: hr
    tool: pgBackRest
    schedules: [{type: wal-archive, every_seconds: 60}]
    repositories:
      - {name: repo1, site: valencia, location: Secondary EDC, off_site: true, retention_days: 35}
"""


def add_hr(estate: Estate, *, tier: int, classification: str | None) -> None:
    """A new system in the topology, with backups; its BIA entry only when classified."""
    estate.append(
        "topology.yaml",
        NEW_SYSTEM.format(
            tier=tier,
            rto=60 if tier == 1 else 600,
            rpo=0 if tier == 1 else 300,
            replication="synchronous" if tier == 1 else "asynchronous",
        ),
    )
    estate.append("backups.yaml", NEW_BACKUP)
    if classification is not None:
        estate.append("bia.yaml", NEW_BIA.format(classification=classification))


def grace(estate: Estate, system: str) -> None:
    """Extend the new-systems waiver (no drill yet) to another system."""
    estate.edit("governance.yaml", "systems: [ecm, crm]", f"systems: [ecm, crm, {system}]")


def named(reasons: list[str], trigger: str) -> list[str]:
    return [r for r in reasons if r.startswith(f"{trigger}: ")]


def test_every_trigger_has_a_stable_snake_case_name() -> None:
    assert list(TRIGGERS) == [
        "plan_differs",
        "unclassified_system",
        "new_mission_critical_system",
        "new_platform",
        "site_team_changed",
        "drill_overdue",
        "drill_missed_objective",
        "topology_changed_since_drill",
        "rto_above_mtd",
        "backup_interval_above_rpo",
        "corrective_action_past_due",
        "review_overdue",
    ]


# --- plan_differs ---------------------------------------------------------------------------


def test_plan_differs_without_a_plan(estate: Estate) -> None:
    assert named(estate.failing(), "plan_differs") == [
        f"plan_differs: no plan in {estate.paths.plan}: run `drctl plan render`"
    ]
    estate.render()
    assert estate.failing() == []


def test_plan_differs_when_edited_by_hand(rendered: Estate) -> None:
    rendered.append("runbooks/plan/plan.md", "\nAdded by hand.\n")
    reasons = rendered.failing()
    assert len(reasons) == 1
    assert reasons[0].startswith(f"plan_differs: {rendered.paths.plan / 'plan.md'} is missing or")
    rendered.render()
    assert rendered.failing() == []


def test_plan_differs_when_an_input_changes(rendered: Estate) -> None:
    rendered.edit("runbooks/site-loss-failover.yaml", "Fence first", "Always fence first")
    [reason] = rendered.failing()
    assert "version 1) is out of date: inputs changed: runbooks/site-loss-failover.yaml" in reason
    assert "sections changed: 9 Recovery procedures" in reason
    assert "gives version 2" in reason
    again = rendered.render()
    assert again.manifest.version == 2
    assert again.change is not None
    assert again.change.inputs_changed == ["runbooks/site-loss-failover.yaml"]
    assert rendered.failing() == []


# --- triggers comparing with the previous plan: rendering resolves them -----------------------


def test_new_mission_critical_system(rendered: Estate) -> None:
    add_hr(rendered, tier=1, classification="mission-critical")
    grace(rendered, "hr")
    reasons = rendered.failing()
    assert named(reasons, "new_mission_critical_system") == [
        "new_mission_critical_system: 'hr' is classified mission-critical and is not in the "
        "plan yet"
    ]
    assert {r.split(":")[0] for r in reasons} == {
        "new_mission_critical_system",
        "new_platform",
        "plan_differs",
    }
    plan = rendered.render()
    assert plan.change is not None
    assert (
        "new_mission_critical_system: 'hr' is classified mission-critical and is not in the "
        "plan yet"
    ) in plan.change.reasons
    assert rendered.failing() == []
    assert "| hr | mission-critical | 1 |" in plan.markdown


def test_new_platform(rendered: Estate) -> None:
    rendered.edit(
        "topology.yaml",
        "team: Valencia incident team\n    services: [etcd, haproxy, node-exporter]",
        "team: Valencia incident team\n    services: [etcd, haproxy, node-exporter, prometheus]",
    )
    assert named(rendered.failing(), "new_platform") == [
        "new_platform: site 'valencia': new service:prometheus"
    ]
    plan = rendered.render()
    assert plan.change is not None
    assert plan.change.reasons == ["new_platform: site 'valencia': new service:prometheus"]
    assert rendered.failing() == []
    assert "| valencia | prometheus | server | — |" in plan.markdown


def test_site_team_changed(rendered: Estate) -> None:
    rendered.edit("governance.yaml", 'phone: "+39 0831 555 202"', 'phone: "+39 0831 555 299"')
    assert named(rendered.failing(), "site_team_changed") == [
        "site_team_changed: brindisi team: Database administrator changed (phone)"
    ]
    rendered.render()
    assert rendered.failing() == []


def test_site_team_member_without_alternate(rendered: Estate) -> None:
    alternate = (
        "\n        alternate: {name: Elena Russo, email: elena.russo@un.example, "
        'phone: "+39 0831 555 207"}'
    )
    rendered.edit("governance.yaml", alternate, "")
    expected = [
        "site_team_changed: brindisi team: Database administrator (Paolo Greco) has no alternate",
        "site_team_changed: brindisi team: Database administrator changed (alternate, "
        "alternate_email, alternate_phone)",
    ]
    assert named(rendered.failing(), "site_team_changed") == expected
    rendered.render()  # records the change; a member without an alternate still fires
    assert named(rendered.failing(), "site_team_changed") == expected[:1]
    rendered.edit(
        "governance.yaml",
        'phone: "+39 0831 555 202"',
        'phone: "+39 0831 555 202"' + alternate,
    )
    rendered.render()
    assert rendered.failing() == []


# --- triggers about the estate's state: fix the cause, render, pass ---------------------------


def test_unclassified_system(rendered: Estate) -> None:
    add_hr(rendered, tier=2, classification=None)
    grace(rendered, "hr")
    assert named(rendered.failing(), "unclassified_system") == [
        "unclassified_system: system 'hr' has no classification in the BIA (bia.yaml)"
    ]
    plan = rendered.render()
    assert "| hr | NOT CLASSIFIED | 2 |" in plan.markdown
    assert {r.split(":")[0] for r in rendered.failing()} == {"unclassified_system"}
    rendered.append("bia.yaml", NEW_BIA.format(classification="critical"))
    rendered.render()
    assert rendered.failing() == []


def test_drill_overdue_when_the_waiver_expires(rendered: Estate) -> None:
    after = datetime(2027, 2, 16, tzinfo=UTC)
    assert rendered.assess(datetime(2027, 2, 15, 23, 59, tzinfo=UTC)).waived["drill_overdue"]
    assert named(rendered.failing(after), "drill_overdue") == [
        "drill_overdue: ecm (tier 1): no successful drill on record (required every 90 days) "
        "(waiver W-2026-01 expired 2027-02-15)",
        "drill_overdue: crm (tier 1): no successful drill on record (required every 90 days) "
        "(waiver W-2026-01 expired 2027-02-15)",
    ]
    rendered.journal("run-1", datetime(2027, 2, 10, 9, 0, tzinfo=UTC))
    rendered.edit("governance.yaml", "status: open}", "status: done}", count=2)
    rendered.render()
    assert rendered.failing(after) == []


def test_drill_overdue_after_90_days(rendered: Estate) -> None:
    drilled = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
    rendered.journal("run-1", drilled)
    rendered.edit("governance.yaml", "status: open}", "status: done}", count=2)
    rendered.render()
    assert rendered.failing(drilled + timedelta(days=90)) == []
    assert named(rendered.failing(drilled + timedelta(days=90, seconds=1)), "drill_overdue") == [
        "drill_overdue: ecm (tier 1): last successful drill 2027-03-01, more than 90 days ago "
        "(waiver W-2026-01 expired 2027-02-15)",
        "drill_overdue: crm (tier 1): last successful drill 2027-03-01, more than 90 days ago "
        "(waiver W-2026-01 expired 2027-02-15)",
    ]


def test_drill_overdue_without_a_waiver(rendered: Estate) -> None:
    rendered.edit("governance.yaml", "systems: [ecm, crm]", "systems: [crm]")
    assert named(rendered.failing(), "drill_overdue") == [
        "drill_overdue: ecm (tier 1): no successful drill on record (required every 90 days)"
    ]
    rendered.journal("run-1", NOW - timedelta(days=3))
    rendered.render()
    assert rendered.failing() == []


def test_drill_missed_objective(rendered: Estate) -> None:
    rendered.journal(
        "run-1", NOW - timedelta(days=2), rto={"ecm": 75.5}, rpo={"ecm": 0.4}, lost=3, passed=False
    )
    expected = [
        "drill_missed_objective: ecm: RTO 75.5 s against an objective of 60 s in drill run-1 "
        "(2026-11-29)",
        "drill_missed_objective: ecm: RPO 0.4 s, 3 writes lost, against an objective of 0 s in "
        "drill run-1 (2026-11-29)",
    ]
    assert named(rendered.failing(), "drill_missed_objective") == expected
    plan = rendered.render()
    assert "| ecm | 60 s | 75.5 s | MISSED | 0 s | 0.4 s (3 lost) | MISSED | 2026-11-29 |" in (
        plan.markdown
    )
    assert named(rendered.failing(), "drill_missed_objective") == expected
    rendered.journal("run-2", NOW - timedelta(days=1))  # the corrective drill meets both
    rendered.render()
    assert rendered.failing() == []


def test_topology_changed_since_drill(rendered: Estate) -> None:
    rendered.journal("run-1", NOW - timedelta(days=5))
    rendered.render()
    assert rendered.failing() == []
    rendered.edit("topology.yaml", "patroni_port: 8008", "patroni_port: 8010")
    expected = [
        "topology_changed_since_drill: ecm: its topology changed after its last drill (run-1); "
        "drill it again"
    ]
    assert named(rendered.failing(), "topology_changed_since_drill") == expected
    rendered.render()  # the plan remembers the system as it was drilled
    assert named(rendered.failing(), "topology_changed_since_drill") == expected
    rendered.journal("run-2", NOW - timedelta(days=1))
    rendered.render()
    assert rendered.failing() == []


def test_rto_above_mtd(rendered: Estate) -> None:
    rendered.edit("bia.yaml", "mtd_seconds: 14400", "mtd_seconds: 1000")
    assert named(rendered.failing(), "rto_above_mtd") == [
        "rto_above_mtd: ecm: RTO 60 s + work-recovery 1800 s exceeds the maximum tolerable "
        "downtime of 1000 s"
    ]
    rendered.edit("bia.yaml", "mtd_seconds: 1000", "mtd_seconds: 7200")
    rendered.render()
    assert rendered.failing() == []


def test_backup_interval_above_rpo(rendered: Estate) -> None:
    rendered.edit("backups.yaml", "off_site: true", "off_site: false", count=2)
    assert named(rendered.failing(), "backup_interval_above_rpo") == [
        "backup_interval_above_rpo: ecm: no off-site backup repository"
    ]
    rendered.edit("backups.yaml", "off_site: false", "off_site: true", count=2)
    rendered.render()
    assert rendered.failing() == []


def test_corrective_action_past_due(rendered: Estate) -> None:
    assert rendered.failing(datetime(2027, 1, 31, 23, 59, tzinfo=UTC)) == []
    assert named(rendered.failing(datetime(2027, 2, 1, tzinfo=UTC)), "corrective_action_past_due")
    rendered.edit(
        "governance.yaml", "due: 2027-01-31, status: open", "due: 2027-01-31, status: done"
    )
    rendered.render()
    assert rendered.failing(datetime(2027, 2, 1, tzinfo=UTC)) == []


def test_review_overdue(rendered: Estate) -> None:
    late = datetime(2027, 11, 19, tzinfo=UTC)
    reasons = named(rendered.failing(late), "review_overdue")
    assert reasons == [
        "review_overdue: last review 2026-11-18 is older than 12 months (next review was due "
        "by 2027-11-18)"
    ]
    rendered.edit("governance.yaml", "last_review: 2026-11-18", "last_review: 2027-11-10")
    rendered.render()
    assert named(rendered.failing(late), "review_overdue") == []
