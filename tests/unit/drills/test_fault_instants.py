"""Which systems a method step disrupts: each system's t0 is the first step that hits it."""

from __future__ import annotations

import pytest

from drctl.topology import DEFAULT_PATH, load_topology
from drills.actions import NOT_FAULTS, hit_by
from drills.load import load_drill, resolve
from drills.vocabulary import ACTIONS

SYSTEMS = ["ecm", "crm"]


def test_a_step_naming_a_system_hits_that_system_alone() -> None:
    assert hit_by("db.switchover", {"system": "crm", "site": "valencia"}, SYSTEMS) == ["crm"]
    assert hit_by("db.corrupt", {"system": "ecm", "table": "t", "column": "c"}, SYSTEMS) == ["ecm"]


def test_a_site_wide_step_hits_every_system() -> None:
    assert hit_by("site.power_off", {"site": "brindisi"}, SYSTEMS) == SYSTEMS
    assert hit_by("service.kill", {"site": "brindisi", "service": "haproxy"}, SYSTEMS) == SYSTEMS


@pytest.mark.parametrize("name", sorted(NOT_FAULTS))
def test_waiting_and_confirming_inject_nothing(name: str) -> None:
    assert name in ACTIONS  # the list names real actions
    assert hit_by(name, {"system": "ecm", "site": "brindisi", "seconds": 1}, SYSTEMS) == []


def test_the_switchover_drill_starts_each_outage_at_its_own_step() -> None:
    topo = load_topology(DEFAULT_PATH)
    drill = load_drill(resolve("switchover-valencia"), topo)
    first = {
        system: i
        for i, step in reversed(list(enumerate(drill.method)))
        for system in hit_by(step.action, step.args, drill.systems)
    }
    assert first == {"ecm": 0, "crm": 1}
