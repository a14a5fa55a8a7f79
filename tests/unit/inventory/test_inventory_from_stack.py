"""drctl inventory from-stack: `pulumi stack output --json` → the production Ansible inventory."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from drctl import REPO_ROOT
from drctl.cli import main
from drctl.errors import ConfigError
from drctl.inventory import parse_stack_output, production_inventory, render
from drctl.lab.inventory import lab_inventory
from drctl.topology import Topology, load_topology

FIXTURES = Path(__file__).parent / "fixtures"
STACK_OUTPUT = FIXTURES / "production-stack-output.json"
BAD = yaml.safe_load((FIXTURES / "bad_outputs.yaml").read_text())


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_topology()


@pytest.fixture(scope="module")
def inventory(topology: Topology) -> dict[str, Any]:
    output = parse_stack_output(STACK_OUTPUT.read_text(), STACK_OUTPUT)
    return production_inventory(output, topology, STACK_OUTPUT)["all"]


def test_same_groups_and_variables_as_the_lab(
    inventory: dict[str, Any], topology: Topology
) -> None:
    lab = lab_inventory(topology)["all"]
    assert list(inventory["children"]) == [g for g in lab["children"] if g != "front_door"]
    lab_vars = [k for k in lab["vars"] if k != "drctl_data_root"]
    assert [k for k in inventory["vars"] if k in lab["vars"]] == list(lab["vars"])
    assert set(lab_vars) <= set(inventory["vars"])
    for key in ("drctl_ports", "drctl_systems"):
        assert inventory["vars"][key] == lab["vars"][key]


def test_production_connection_and_service_manager(inventory: dict[str, Any]) -> None:
    v = inventory["vars"]
    assert v["drctl_service_manager"] == "systemd"
    assert (v["ansible_connection"], v["ansible_user"], v["ansible_become"]) == (
        "ssh",
        "drctl",
        True,
    )
    assert v["drctl_data_root"] == "/var/lib/drctl"


def test_hosts_are_the_stack_vms(inventory: dict[str, Any]) -> None:
    stack = json.loads(STACK_OUTPUT.read_text())
    assert list(inventory["hosts"]) == [h["name"] for h in stack["hosts"]]
    db = inventory["hosts"]["brindisi-db"]
    assert db["ansible_host"] == db["drctl_address"] == "10.1.0.11"
    assert db["drctl_site"] == "brindisi"
    assert db["drctl_proxmox"] == {
        "endpoint": "https://pve.brindisi.example.org:8006/",
        "node": "pve-bds-2",
        "vm_id": 1101,
    }
    for group, members in inventory["children"].items():
        for name in members["hosts"]:
            assert group in next(h["groups"] for h in stack["hosts"] if h["name"] == name)


def test_site_variables_point_at_the_vm_doing_the_work(inventory: dict[str, Any]) -> None:
    v = inventory["vars"]
    # routers and Patroni replicas reach a site's database members here
    assert (
        v["drctl_site_addresses"]["brindisi"] == inventory["hosts"]["brindisi-db"]["drctl_address"]
    )
    assert v["drctl_site_addresses"]["geneva"] == "10.11.0.14"
    assert v["drctl_etcd_members"] == [
        {"name": "brindisi", "address": "10.1.0.10"},
        {"name": "valencia", "address": "10.2.0.10"},
        {"name": "newyork", "address": "10.3.0.10"},
    ]
    assert v["drctl_front_door_address"] == "ecm.drctl.example.org"  # the hubs' origin
    assert v["patroni_hba_networks"] == ["10.1.0.0/24", "10.2.0.0/24"]
    assert v["drctl_backup"]["bucket"] == "drctl-production-pgbackrest"
    assert "secret_access_key" not in json.dumps(v)


def test_committed_example_is_current(topology: Topology) -> None:
    output = parse_stack_output(STACK_OUTPUT.read_text(), STACK_OUTPUT)
    committed = REPO_ROOT / "inventories" / "production" / "hosts.yml"
    assert committed.read_text() == render(output, topology, STACK_OUTPUT)


def test_cli_writes_the_inventory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "production"
    code = main(["inventory", "from-stack", "--stack-output", str(STACK_OUTPUT), "--out", str(out)])
    assert code == 0
    assert "15 hosts at 10 sites (stack production)" in capsys.readouterr().out
    written = yaml.safe_load((out / "hosts.yml").read_text())
    assert written["all"]["vars"]["drctl_service_manager"] == "systemd"
    assert (out / "hosts.yml").read_text().startswith("# Generated from `pulumi stack output")


def test_cli_reads_standard_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(STACK_OUTPUT.read_text()))
    assert main(["inventory", "from-stack", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "hosts.yml").exists()


def test_cli_refuses_a_terminal_on_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Tty())
    assert main(["inventory", "from-stack", "--out", str(tmp_path)]) == 1
    assert "pulumi stack output --json | drctl inventory from-stack" in capsys.readouterr().err


def broken(case: dict[str, Any]) -> str:
    if "text" in case:
        return str(case["text"])
    out = copy.deepcopy(json.loads(STACK_OUTPUT.read_text()))
    exec(case["edit"], {}, {"out": out})
    return json.dumps(out)


@pytest.mark.parametrize("case", BAD, ids=[c["case"] for c in BAD])
def test_bad_output_is_a_clear_error(case: dict[str, Any], topology: Topology) -> None:
    source = Path("stack.json")
    with pytest.raises(ConfigError) as raised:
        output = parse_stack_output(broken(case), source)
        production_inventory(output, topology, source)
    problems = {p.field: p.message for p in raised.value.problems}
    assert case["field"] in problems, str(raised.value)
    assert case["message"] in problems[case["field"]]


def test_bad_output_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "stack.json"
    bad.write_text(broken(BAD[7]))  # unknown site
    code = main(
        ["inventory", "from-stack", "--stack-output", str(bad), "--out", str(tmp_path / "inv")]
    )
    assert code == 1
    assert f"{bad}: hosts[0].site: unknown site 'lisbon'" in capsys.readouterr().err
    assert not (tmp_path / "inv").exists()


def test_missing_stack_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.json"
    assert main(["inventory", "from-stack", "--stack-output", str(missing)]) == 1
    assert "cannot read file" in capsys.readouterr().err
