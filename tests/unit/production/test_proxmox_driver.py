"""The Proxmox VE driver against a TEST DOUBLE of the API (tests/doubles/proxmox_api.py),
served on 127.0.0.1: power, snapshots, task failures, credentials and the inventory it reads."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from drctl.errors import ConfigError, EstateError
from drctl.production.proxmox import (
    DEFAULT_INVENTORY,
    TOKEN_ID_ENV,
    TOKEN_SECRET_ENV,
    VERIFY_ENV,
    ApiToken,
    ProxmoxHypervisor,
    load_vms,
    verify_from_env,
)
from tests.doubles.proxmox_api import ProxmoxApiDouble

SECRET = "double-secret"
ENV = {TOKEN_ID_ENV: "drctl@pve!drills", TOKEN_SECRET_ENV: SECRET}
# host: (site, node, vm_id), as `drctl inventory from-stack` writes them
HOSTS = {
    "brindisi-etcd": ("brindisi", "pve-bds-1", 1100),
    "brindisi-db": ("brindisi", "pve-bds-1", 1101),
    "brindisi-app": ("brindisi", "pve-bds-2", 1102),
    "valencia-db": ("valencia", "pve-vlc-1", 1201),
    "valencia-app": ("valencia", "pve-vlc-1", 1202),
}
BRINDISI = [h for h, (site, _, _) in HOSTS.items() if site == "brindisi"]


def write_inventory(directory: Path, hosts: dict[str, dict[str, Any]]) -> Path:
    path = directory / "hosts.yml"
    inventory = {
        "all": {
            "vars": {"ansible_user": "drctl", "drctl_service_manager": "systemd"},
            "hosts": hosts,
            "children": {"patroni": {"hosts": {h: None for h in hosts if h.endswith("-db")}}},
        }
    }
    path.write_text("# generated\n" + yaml.safe_dump(inventory, sort_keys=False))
    return path


def host_vars(host: str, endpoint: str) -> dict[str, Any]:
    site, node, vm_id = HOSTS[host]
    return {
        "ansible_host": f"10.0.0.{vm_id % 100}",
        "drctl_site": site,
        "drctl_proxmox": {"endpoint": endpoint, "node": node, "vm_id": vm_id},
    }


def hypervisor(path: Path, env: dict[str, str] = ENV) -> ProxmoxHypervisor:
    return ProxmoxHypervisor.from_inventory(path, env=env, poll_interval=0.01, wait_timeout=5)


@pytest.fixture
def pve() -> Iterator[ProxmoxApiDouble]:
    with ProxmoxApiDouble(secret=SECRET) as double:
        for _, node, vm_id in HOSTS.values():
            double.add_vm(node, vm_id)
        yield double


@pytest.fixture
def inventory(pve: ProxmoxApiDouble, tmp_path: Path) -> Path:
    return write_inventory(tmp_path, {h: host_vars(h, pve.url) for h in HOSTS})


@pytest.fixture
def estate(inventory: Path) -> ProxmoxHypervisor:
    return hypervisor(inventory)


def status(pve: ProxmoxApiDouble, host: str) -> str:
    _, node, vm_id = HOSTS[host]
    return pve.vm(node, vm_id).status


def qemu(host: str, action: str) -> str:
    _, node, vm_id = HOSTS[host]
    return f"/nodes/{node}/qemu/{vm_id}/{action}"


def test_the_production_inventory_gives_every_host_its_vm() -> None:
    raw = yaml.safe_load(DEFAULT_INVENTORY.read_text())["all"]["hosts"]
    vms = load_vms(DEFAULT_INVENTORY)
    assert [vm.host for vm in vms] == list(raw)
    for vm in vms:
        placement = raw[vm.host]["drctl_proxmox"]
        assert vm.site == raw[vm.host]["drctl_site"]
        assert (vm.endpoint, vm.node, vm.vm_id) == (
            placement["endpoint"].rstrip("/"),
            placement["node"],
            placement["vm_id"],
        )


def test_power_off_stops_every_vm_of_the_site_at_once_and_no_other(
    pve: ProxmoxApiDouble, estate: ProxmoxHypervisor
) -> None:
    estate.power_off("brindisi")

    assert {h: status(pve, h) for h in HOSTS} == {
        h: "stopped" if h in BRINDISI else "running" for h in HOSTS
    }
    assert sorted(pve.posts()) == sorted(qemu(h, "status/stop") for h in BRINDISI)
    # a power cut: every stop is issued before the first task is awaited
    calls = [path for _, path in pve.requests]
    last_stop = max(i for i, p in enumerate(calls) if p.endswith("/status/stop"))
    first_wait = min(i for i, p in enumerate(calls) if "/tasks/" in p)
    assert last_stop < first_wait
    assert estate.is_powered_off("brindisi")
    assert not estate.is_powered_off("valencia")


def test_power_off_leaves_stopped_vms_alone(
    pve: ProxmoxApiDouble, estate: ProxmoxHypervisor
) -> None:
    pve.vm("pve-bds-1", 1100).status = "stopped"
    estate.power_off("brindisi")
    assert qemu("brindisi-etcd", "status/stop") not in pve.posts()
    assert estate.is_powered_off("brindisi")


def test_power_on_starts_the_stopped_vms_until_they_run(
    pve: ProxmoxApiDouble, estate: ProxmoxHypervisor
) -> None:
    for host in ("brindisi-etcd", "brindisi-db"):
        _, node, vm_id = HOSTS[host]
        pve.vm(node, vm_id).status = "stopped"

    estate.power_on("brindisi")

    assert all(status(pve, h) == "running" for h in HOSTS)
    assert sorted(pve.posts()) == sorted(
        qemu(h, "status/start") for h in ("brindisi-etcd", "brindisi-db")
    )
    assert not estate.is_powered_off("brindisi")


def test_is_powered_off_only_when_every_vm_is_stopped(
    pve: ProxmoxApiDouble, estate: ProxmoxHypervisor
) -> None:
    vms = [pve.vm(HOSTS[h][1], HOSTS[h][2]) for h in BRINDISI]
    for vm in vms[:-1]:
        vm.status = "stopped"
    assert not estate.is_powered_off("brindisi")
    vms[-1].status = "stopped"
    assert estate.is_powered_off("brindisi")


def test_snapshot_and_rollback_restore_every_disk_of_the_site(
    pve: ProxmoxApiDouble, estate: ProxmoxHypervisor
) -> None:
    vms = {h: pve.vm(HOSTS[h][1], HOSTS[h][2]) for h in HOSTS}
    for host, vm in vms.items():
        vm.disk = f"{host} before the drill"

    estate.snapshot("brindisi", "before-drill")
    estate.snapshot("brindisi", "during_drill")
    for vm in vms.values():
        vm.disk = "written during the drill"

    assert estate.snapshots("brindisi") == {h: ["before-drill", "during_drill"] for h in BRINDISI}
    assert estate.snapshots("valencia") == {h: [] for h in HOSTS if h not in BRINDISI}

    estate.rollback("brindisi", "before-drill")

    assert {h: vm.disk for h, vm in vms.items()} == {
        h: f"{h} before the drill" if h in BRINDISI else "written during the drill" for h in HOSTS
    }
    assert estate.is_powered_off("brindisi")  # a rollback of disks leaves the VMs stopped


ACTIONS: dict[
    str, tuple[Callable[[ProxmoxHypervisor], None], Callable[[ProxmoxHypervisor], None]]
] = {
    # task type: (what comes first, the action whose task fails)
    "qmstop": (lambda e: None, lambda e: e.power_off("brindisi")),
    "qmstart": (lambda e: e.power_off("brindisi"), lambda e: e.power_on("brindisi")),
    "qmsnapshot": (lambda e: None, lambda e: e.snapshot("brindisi", "before-drill")),
    "qmrollback": (
        lambda e: e.snapshot("brindisi", "before-drill"),
        lambda e: e.rollback("brindisi", "before-drill"),
    ),
}


@pytest.mark.parametrize("kind", ACTIONS)
def test_a_failed_task_names_the_vm_its_node_and_exitstatus(
    pve: ProxmoxApiDouble, estate: ProxmoxHypervisor, kind: str
) -> None:
    before, action = ACTIONS[kind]
    before(estate)
    pve.fail_next(kind, 1102, "can't lock file '/var/lock/qemu-server/lock-1102.conf'")

    with pytest.raises(EstateError) as caught:
        action(estate)

    message = str(caught.value)
    assert "brindisi-app (VM 1102 on node pve-bds-2)" in message
    assert "can't lock file '/var/lock/qemu-server/lock-1102.conf'" in message
    assert "brindisi-db" not in message  # the others succeeded
    assert f":{kind}:1102:" in message  # the UPID, to find the task log


def test_a_task_that_never_ends_times_out_naming_the_vm(
    pve: ProxmoxApiDouble, estate: ProxmoxHypervisor
) -> None:
    estate.wait_timeout = 0.3
    pve.hang_next("qmstop", 1101)
    started = time.monotonic()
    with pytest.raises(EstateError, match=r"brindisi-db \(VM 1101 on node pve-bds-1\).*0.3 s"):
        estate.power_off("brindisi")
    assert time.monotonic() - started < 3
    assert status(pve, "brindisi-etcd") == "stopped"  # the rest of the site went down


def test_a_wrong_token_is_refused_with_a_clear_error(
    pve: ProxmoxApiDouble, inventory: Path
) -> None:
    estate = hypervisor(inventory, {**ENV, TOKEN_SECRET_ENV: "not-the-secret"})
    with pytest.raises(EstateError) as caught:
        estate.power_off("brindisi")
    message = str(caught.value)
    assert "refused the API token drctl@pve!drills (401)" in message
    assert TOKEN_SECRET_ENV in message
    assert "not-the-secret" not in message
    assert pve.posts() == []
    assert status(pve, "brindisi-db") == "running"


@pytest.mark.parametrize(
    "act",
    [
        lambda e: e.power_off("atlantis"),
        lambda e: e.power_on("atlantis"),
        lambda e: e.is_powered_off("atlantis"),
        lambda e: e.snapshot("atlantis", "x1"),
        lambda e: e.rollback("atlantis", "x1"),
        lambda e: e.snapshots("atlantis"),
    ],
)
def test_an_unknown_site_is_named_and_nothing_is_sent(
    pve: ProxmoxApiDouble, estate: ProxmoxHypervisor, act: Callable[[ProxmoxHypervisor], Any]
) -> None:
    with pytest.raises(EstateError, match=r"unknown site 'atlantis'.*brindisi, valencia"):
        act(estate)
    assert pve.requests == []


@pytest.mark.parametrize("name", ["", "1st", "current", "a/b", "a" * 41, "before drill"])
def test_a_bad_snapshot_name_is_refused_before_anything_is_sent(
    pve: ProxmoxApiDouble, estate: ProxmoxHypervisor, name: str
) -> None:
    with pytest.raises(EstateError, match="snapshot name"):
        estate.snapshot("brindisi", name)
    assert pve.requests == []


def test_a_site_spread_over_two_endpoints_is_asked_at_each(tmp_path: Path) -> None:
    with ProxmoxApiDouble(secret=SECRET) as first, ProxmoxApiDouble(secret=SECRET) as second:
        at = {"brindisi-etcd": first, "brindisi-db": first, "brindisi-app": second}
        for host, double in at.items():
            double.add_vm(*HOSTS[host][1:])
        estate = hypervisor(
            write_inventory(tmp_path, {h: host_vars(h, d.url) for h, d in at.items()})
        )

        estate.power_off("brindisi")

        for double in (first, second):
            mine = [h for h, d in at.items() if d is double]
            assert sorted(double.posts()) == sorted(qemu(h, "status/stop") for h in mine)
            assert all(status(double, h) == "stopped" for h in mine)


def test_tls_is_verified_against_the_ca_given(tmp_path: Path) -> None:
    with ProxmoxApiDouble(secret=SECRET, tls=True) as pve:
        pve.add_vm("pve-bds-1", 1101)
        assert pve.url.startswith("https://127.0.0.1:")
        path = write_inventory(tmp_path, {"brindisi-db": host_vars("brindisi-db", pve.url)})

        with pytest.raises(EstateError, match=f"TLS verification of .* failed; set {VERIFY_ENV}"):
            hypervisor(path).power_off("brindisi")  # self-signed: not trusted by default
        assert pve.posts() == []

        hypervisor(path, {**ENV, VERIFY_ENV: str(pve.ca_path)}).power_off("brindisi")
        assert pve.vm("pve-bds-1", 1101).status == "stopped"


def test_an_unreachable_endpoint_is_named(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    path = write_inventory(tmp_path, {"brindisi-db": host_vars("brindisi-db", endpoint)})
    with pytest.raises(EstateError, match=f"brindisi-db .*cannot reach {endpoint}"):
        hypervisor(path).is_powered_off("brindisi")


def _without_placement(hosts: dict[str, Any]) -> None:
    del hosts["brindisi-db"]["drctl_proxmox"]


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(hosts: dict[str, Any]) -> None:
        hosts["brindisi-db"]["drctl_proxmox"][key] = value

    return change


def _same_vm_twice(hosts: dict[str, Any]) -> None:
    hosts["brindisi-db"]["drctl_proxmox"] = dict(hosts["brindisi-etcd"]["drctl_proxmox"])


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (_without_placement, "drctl_proxmox", "required field is missing"),
        (_set("vm_id", "abc"), "drctl_proxmox.vm_id", "valid integer"),
        (_set("vm_id", 42), "drctl_proxmox.vm_id", "greater than or equal to 100"),
        (_set("node", "pve bds"), "drctl_proxmox.node", "should match pattern"),
        (_set("endpoint", "http://pve.example.org:8006/"), "drctl_proxmox.endpoint", "in clear"),
        (_set("endpoint", "pve.example.org"), "drctl_proxmox.endpoint", "https:// URL"),
        (_set("vmid", 1101), "drctl_proxmox.vmid", "unknown key"),
        (_same_vm_twice, "drctl_proxmox.vm_id", "already host 'brindisi-etcd'"),
    ],
)
def test_a_malformed_inventory_names_the_file_and_field(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], field: str, message: str
) -> None:
    hosts = {h: host_vars(h, "https://pve.brindisi.example.org:8006/") for h in HOSTS}
    change(hosts)
    path = write_inventory(tmp_path, hosts)

    with pytest.raises(ConfigError) as caught:
        ProxmoxHypervisor.from_inventory(path, env=ENV)

    [problem] = caught.value.problems
    assert problem.path == path
    assert problem.field == f"all.hosts.brindisi-db.{field}"
    assert message in problem.message
    assert problem.line is not None
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({}, f"{TOKEN_ID_ENV} and {TOKEN_SECRET_ENV} not set"),
        ({TOKEN_ID_ENV: "drctl@pve!drills"}, f"{TOKEN_SECRET_ENV} not set"),
        ({TOKEN_ID_ENV: "drctl@pve", TOKEN_SECRET_ENV: "s"}, "expected USER@REALM!TOKENID"),
    ],
)
def test_the_token_comes_from_the_environment(env: dict[str, str], error: str) -> None:
    with pytest.raises(EstateError, match=error):
        ApiToken.from_env(env)


def test_the_token_secret_is_never_shown() -> None:
    token = ApiToken.from_env({TOKEN_ID_ENV: "drctl@pve!drills", TOKEN_SECRET_ENV: "s3cr3t"})
    assert (token.user, token.name, token.token_id) == ("drctl@pve", "drills", "drctl@pve!drills")
    assert "s3cr3t" not in repr(token)


def test_tls_verification_setting(tmp_path: Path) -> None:
    ca = tmp_path / "pve-root-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert verify_from_env({}) is True
    assert verify_from_env({VERIFY_ENV: "1"}) is True
    assert verify_from_env({VERIFY_ENV: "0"}) is False
    assert verify_from_env({VERIFY_ENV: str(ca)}) == str(ca)
    with pytest.raises(EstateError, match="no such CA bundle"):
        verify_from_env({VERIFY_ENV: str(tmp_path / "missing.pem")})
