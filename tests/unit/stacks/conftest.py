"""Fixtures for the Pulumi stack tests: each stack runs once per session under the mocks."""

from __future__ import annotations

import pytest
from stack_harness import StackRun, run_stack, stack_config

from drctl.topology import Topology, load_topology


@pytest.fixture(scope="session")
def topology() -> Topology:
    return load_topology()


@pytest.fixture(scope="session")
def production() -> StackRun:
    return run_stack(stack_config("production"), "production")


@pytest.fixture(scope="session")
def staging() -> StackRun:
    return run_stack(stack_config("staging"), "staging")
