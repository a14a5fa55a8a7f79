"""Fixtures for topology tests: the real topology, and a way to run drctl on a copy of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from drctl.topology import DEFAULT_PATH

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def drctl_bin() -> Path:
    """The console script `make setup` installs: what a user runs."""
    return REPO / ".venv" / "bin" / "drctl"


@pytest.fixture(scope="session")
def topology_text() -> str:
    """inventories/topology.yaml as committed: every malformed case is one change to it."""
    return DEFAULT_PATH.read_text(encoding="utf-8")


@pytest.fixture
def write_topology(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = "topology.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
