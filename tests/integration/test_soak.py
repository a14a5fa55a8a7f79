"""A short soak (issue 10; `make soak` runs 50 cycles): three failover/failback cycles in a row
(leader kill, site loss, partition), with the writers running. Each cycle must lose no
acknowledged write, see no two writable primaries and end with a healthy lab. Three, not the
whole rotation: each kind has its own drill test too, and CI time is kept under 30 min."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drctl.estate.lab import LabEstate
from drctl.topology.model import Topology
from drills import soak

pytestmark = pytest.mark.lab


CYCLES = 3


def test_cycles_in_a_row_lose_nothing(lab: LabEstate, topology: Topology, tmp_path: Path) -> None:
    cycles = soak.run(topology, lab, CYCLES, tmp_path / "journals")
    assert [c.kind for c in cycles] == [k for k, _ in soak.fault_kinds()[:CYCLES]]
    for c in cycles:
        assert c.result == "passed", (c.kind, c.reasons)
        assert c.writes_acknowledged > 0
        assert c.writes_lost == 0 and c.split_brain == 0
    written = json.loads(soak.write_json(cycles, tmp_path / "soak.json").read_text())
    assert {k["kind"] for k in written["by_kind"]} == {c.kind for c in cycles}
