"""`drctl drill due`: each tier's period against the journals, at exact boundaries (fixed now)."""

from __future__ import annotations

from typing import Any

import pytest
from journal_factory import DAY, EPOCH, Spec, SystemSpec, make_journal

from drctl.topology.model import Topology
from drills.journal import Status
from drills.model import Drill
from drills.schedule import DueItem, due

NOW = EPOCH + 400 * DAY


def _system(name: str, tier: int, port: int) -> dict[str, Any]:
    return {
        "name": name,
        "title": name.upper(),
        "tier": tier,
        "objectives": {"rto_seconds": 60 * tier, "rpo_seconds": 0 if tier == 1 else 30},
        "recovery_order": 1,
        "placement": ["brindisi", "valencia"],
        "replication": "synchronous" if tier == 1 else "asynchronous",
        "database": {
            "cluster": f"{name}-db",
            "port": port,
            "patroni_port": port + 1,
            "router_port": port + 2,
        },
    }


TOPOLOGY = Topology.model_validate(
    {
        "version": 1,
        "organisation": "Test",
        "tiers": [
            {
                "level": 1,
                "name": "mission-critical",
                "replication": "synchronous",
                "drill_every_days": 90,
            },
            {
                "level": 2,
                "name": "critical",
                "replication": "asynchronous",
                "drill_every_days": 180,
            },
        ],
        "sites": [],
        "systems": [_system("ecm", 1, 5432), _system("crm", 2, 5442)],
    }
)


def _drill(kind: str, systems: list[str], mode: str = "disruptive") -> Drill:
    return Drill.model_validate(
        {
            "title": kind,
            "description": kind,
            "kind": kind,
            "mode": mode,
            "systems": systems,
            "steady-state-hypothesis": {
                "title": "healthy",
                "probes": [{"name": "estate", "check": "estate.healthy"}],
            },
            "method": [],
        }
    )


DRILLS = {
    "ecm-leader-crash": _drill("leader-crash", ["ecm"]),
    "isolated-test": _drill("isolated-test", ["ecm", "crm"], mode="isolated"),
    "site-loss": _drill("site-loss", ["ecm", "crm"]),
    "crm-partition": _drill("partition", ["crm"]),
}


def _ran(days_ago: float, systems: tuple[str, ...] = ("ecm", "crm"), **kw: Any) -> Any:
    return make_journal(
        Spec(started_at=NOW - days_ago * DAY, systems=[SystemSpec(name=s) for s in systems], **kw)
    )


def test_never_drilled_everything_is_due_with_the_site_loss_drill() -> None:
    assert due(TOPOLOGY, DRILLS, [], NOW) == [DueItem("site-loss", ("crm", "ecm"), None, None, 0)]


@pytest.mark.parametrize(
    ("days_ago", "is_due", "overdue_days"),
    [
        (0, False, 0),
        (89.99, False, 0),
        (90, False, 0),  # exactly one period: still within it
        (90 + 1 / DAY, True, 0),  # one second later
        (90.999, True, 0),
        (91, True, 1),
        (100.5, True, 10),
    ],
)
def test_tier_1_period_boundary(days_ago: float, is_due: bool, overdue_days: int) -> None:
    journals = [_ran(days_ago, ("ecm",)), _ran(1, ("crm",))]
    items = due(TOPOLOGY, DRILLS, journals, NOW)
    if not is_due:
        assert items == []
        return
    [item] = items
    assert item.drill_id == "site-loss"  # tier 1: the site-loss drill is preferred
    assert item.systems == ("ecm",)
    assert item.last_run == pytest.approx(NOW - days_ago * DAY)
    assert item.due_since == pytest.approx(NOW - days_ago * DAY + 90 * DAY)
    assert item.overdue_days == overdue_days


def test_tier_2_uses_its_own_period() -> None:
    journals = [_ran(1, ("ecm",)), _ran(179, ("crm",))]
    assert due(TOPOLOGY, DRILLS, journals, NOW) == []
    journals = [_ran(1, ("ecm",)), _ran(181, ("crm",))]
    [item] = due(TOPOLOGY, DRILLS, journals, NOW)
    # tier 2 prefers no kind and each covering drill covers the one due system: the id decides
    assert (item.drill_id, item.systems, item.overdue_days) == ("crm-partition", ("crm",), 1)


@pytest.mark.parametrize(
    "kw",
    [
        {"result": "failed"},
        {"result": None},
        {"status": Status.INTERRUPTED},
        {"status": Status.RECOVERED},
        {"status": Status.RUNNING},
        {"mode": "tabletop"},
    ],
    ids=["failed", "no-verdict", "interrupted", "recovered", "running", "other-mode"],
)
def test_only_passed_disruptive_or_isolated_drills_count(kw: dict[str, Any]) -> None:
    journals = [_ran(10, **kw)]
    [item] = due(TOPOLOGY, DRILLS, journals, NOW)
    assert item.systems == ("crm", "ecm")
    assert item.last_run is None


def test_isolated_drill_counts_and_the_newest_success_wins() -> None:
    journals = [_ran(200, mode="isolated"), _ran(30, mode="isolated"), _ran(5, result="failed")]
    assert due(TOPOLOGY, DRILLS, journals, NOW) == []


def test_a_drill_covers_only_the_systems_in_its_journal() -> None:
    journals = [_ran(10, ("ecm",))]
    [item] = due(TOPOLOGY, DRILLS, journals, NOW)
    assert item.systems == ("crm",)


def test_systems_due_by_the_same_drill_are_grouped_oldest_first() -> None:
    journals = [_ran(95, ("ecm",)), _ran(200, ("crm",))]
    [item] = due(TOPOLOGY, DRILLS, journals, NOW)
    assert item.drill_id == "site-loss"  # covers both due systems
    assert item.systems == ("crm", "ecm")
    assert item.last_run == pytest.approx(NOW - 200 * DAY)
    assert item.due_since == pytest.approx(NOW - 20 * DAY)  # crm fell due first
    assert item.overdue_days == 20


def test_without_the_site_loss_drill_any_covering_drill_is_chosen() -> None:
    drills = {k: v for k, v in DRILLS.items() if k != "site-loss"}
    [item] = due(TOPOLOGY, drills, [_ran(1, ("crm",))], NOW)
    assert (item.drill_id, item.systems) == ("ecm-leader-crash", ("ecm",))
    # both due: the drill covering both means one run
    assert [i.drill_id for i in due(TOPOLOGY, drills, [], NOW)] == ["isolated-test"]


def test_a_system_no_drill_covers_is_reported_without_a_drill() -> None:
    drills = {"ecm-leader-crash": DRILLS["ecm-leader-crash"]}
    assert due(TOPOLOGY, drills, [], NOW) == [
        DueItem(None, ("crm",), None, None, 0),
        DueItem("ecm-leader-crash", ("ecm",), None, None, 0),
    ]


def test_never_drilled_comes_before_the_most_overdue() -> None:
    drills = {k: DRILLS[k] for k in ("ecm-leader-crash", "crm-partition")}
    items = due(TOPOLOGY, drills, [_ran(300, ("ecm",))], NOW)
    assert [(i.drill_id, i.overdue_days) for i in items] == [
        ("crm-partition", 0),  # never drilled
        ("ecm-leader-crash", 210),
    ]
    items = due(TOPOLOGY, drills, [_ran(300, ("ecm",)), _ran(200, ("crm",))], NOW)
    assert [(i.drill_id, i.overdue_days) for i in items] == [
        ("ecm-leader-crash", 210),
        ("crm-partition", 20),
    ]
