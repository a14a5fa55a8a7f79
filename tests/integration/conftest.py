"""The `lab` fixture: a running, healthy lab (brought up once per session if it is not).

Tests that break the lab restore it themselves through `restore` (the same code the drill
engine's failback uses), so each test starts from steady state.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from drctl.estate.lab import LabEstate
from drctl.lab import health, lifecycle
from drctl.lab.paths import LabPaths
from drctl.topology import DEFAULT_PATH, load_topology
from drctl.topology.model import Topology


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # `lab down` tests tear the lab down: run them after every other test that needs it.
    items.sort(key=lambda item: item.get_closest_marker("lab_teardown") is not None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "lab_teardown: stops the lab; runs last")


@pytest.fixture(scope="session")
def topology() -> Topology:
    return load_topology(DEFAULT_PATH)


@pytest.fixture(scope="session")
def lab(topology: Topology) -> Iterator[LabEstate]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (cgroups, iptables)")
    estate = LabEstate(topology, LabPaths.default())
    # DRCTL_TEST_SKIP_TAGS=apps,monitoring accepts a partial lab (while developing the roles)
    skip = os.environ.get("DRCTL_TEST_SKIP_TAGS") or None
    deployed_partially = set(health.skipped_tags(estate.paths)) - set((skip or "").split(","))
    if deployed_partially or not all(c.healthy for c in estate.health()):
        result = lifecycle.up(topology, skip_tags=skip, progress=lambda x: print(x, flush=True))
        bad = [f"{c.site}/{c.service}" for c in result.health if not c.healthy]
        assert not bad, f"lab up left services unhealthy: {bad}"
    yield estate


@pytest.fixture
def steady(lab: LabEstate, topology: Topology) -> Iterator[LabEstate]:
    """The lab, restored to steady state after the test whatever it did."""
    yield lab
    lifecycle.restore(topology, lab.paths, progress=lambda line: print(line, flush=True))
