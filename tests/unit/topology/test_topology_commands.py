"""`drctl topology validate | show` on the real topology, and the inventory generated from it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from drctl.cli import main
from drctl.lab.inventory import LAB_INVENTORY, render
from drctl.topology import DEFAULT_PATH, load_topology


def test_validate_default_path_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topology", "validate"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{DEFAULT_PATH}: valid (11 sites, 2 systems)\n" and err == ""


def test_installed_command_accepts_the_committed_topology(drctl_bin: Path) -> None:
    result = subprocess.run(
        [str(drctl_bin), "topology", "validate", str(DEFAULT_PATH)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "valid (11 sites, 2 systems)" in result.stdout


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["topology", "validate", "a.yaml", "b.yaml"])
    assert info.value.code == 2


def test_show_prints_sites_and_systems_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topology", "show"]) == 0
    out = capsys.readouterr().out
    assert "United Nations Secretariat: sites" in out and "systems" in out
    for header in ("site", "role", "lab address", "system", "tier", "replication"):
        assert f" {header} " in out
    # names and addresses are never cut, even at 80 columns (what rich assumes for a pipe)
    for site in load_topology().sites:
        assert f"│ {site.name} " in out and f" {site.lab_address} " in out
    assert "│ ecm " in out and "│ crm " in out and "synchronous" in out
    assert "recovery waves (parallel within a wave): ecm, crm" in out


def test_show_rejects_an_invalid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "topology.yaml"
    path.write_text(DEFAULT_PATH.read_text().replace("version: 1", "version: one"))
    assert main(["topology", "show", "--path", str(path)]) == 1
    _, err = capsys.readouterr()
    assert f"{path}:4: version: " in err and "Traceback" not in err


def test_committed_lab_inventory_is_current() -> None:
    """inventories/lab/hosts.yml is generated from the topology; a stale copy fails here.
    Regenerate: .venv/bin/python -c 'from drctl.lab.inventory import write;
    from drctl.topology import load_topology; write(load_topology())'"""
    assert LAB_INVENTORY.read_text() == render(load_topology())


def test_lab_inventory_follows_the_topology(tmp_path: Path) -> None:
    """Not merely equal by accident: a change to the topology changes the rendering."""
    path = tmp_path / "topology.yaml"
    path.write_text(DEFAULT_PATH.read_text().replace("127.10.2.1", "127.10.2.9"))
    rendered = render(load_topology(path))
    assert "valencia: 127.10.2.9" in rendered and rendered != LAB_INVENTORY.read_text()
