"""The lab reached the production way: keys, known_hosts and the lab-ssh inventory generated
from the topology, read back as SSH hosts; the production inventory read the same way."""

from __future__ import annotations

import stat
from pathlib import Path

import paramiko
import pytest
import yaml

from drctl.errors import ConfigError
from drctl.estate.base import HostCheck
from drctl.estate.production import ProductionEstate
from drctl.lab import inventory, ssh
from drctl.lab.paths import LabPaths
from drctl.production.checks import host_endpoints, one_primary
from drctl.production.hosts import load_inventory
from drctl.production.ssh import MANAGERS
from drctl.topology import DEFAULT_PATH, load_topology
from drctl.topology.model import Topology

PRODUCTION = Path(__file__).parents[3] / "inventories" / "production"


@pytest.fixture(scope="module")
def topology() -> Topology:
    return load_topology(DEFAULT_PATH)


@pytest.fixture
def paths(tmp_path: Path) -> LabPaths:
    return LabPaths(tmp_path / "state", tmp_path / "cgroup")


@pytest.fixture
def lab_ssh(topology: Topology, paths: LabPaths, tmp_path: Path) -> Path:
    path = tmp_path / "lab-ssh" / "hosts.yml"
    inventory.write(topology, path, inventory.render_ssh(topology, paths, ["monitoring"]))
    return path


def test_controller_key_pair_is_private_and_made_once(paths: LabPaths) -> None:
    files, created = ssh.ensure_key_pair(paths)
    assert created
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.ssh.stat().st_mode) == 0o700
    assert ssh.public_key(paths).startswith("ssh-ed25519 ")
    key = paramiko.Ed25519Key.from_private_key_file(str(files.key))  # OpenSSH's format
    assert ssh.public_key(paths).split()[1] == key.get_base64()
    before = files.key.read_bytes()
    assert ssh.ensure_key_pair(paths) == (files, False)
    assert files.key.read_bytes() == before


def test_known_hosts_come_from_the_sites_host_keys(topology: Topology, paths: LabPaths) -> None:
    for site, key in (("brindisi", "AAAAbrindisi"), ("geneva", "AAAAgeneva")):
        paths.sshd_dir(site).mkdir(parents=True)
        (paths.sshd_dir(site) / ssh.HOST_KEY_NAME).write_text(f"ssh-ed25519 {key} {site}\n")
    ssh.ensure_key_pair(paths)
    assert ssh.write_known_hosts(topology, paths)
    lines = ssh.SshFiles.of(paths).known_hosts.read_text().splitlines()
    assert lines == ["127.10.1.1 ssh-ed25519 AAAAbrindisi", "127.10.11.1 ssh-ed25519 AAAAgeneva"]
    assert not ssh.write_known_hosts(topology, paths)  # unchanged


def test_lab_ssh_inventory_has_one_root_host_per_site(
    topology: Topology, paths: LabPaths, lab_ssh: Path
) -> None:
    doc = yaml.safe_load(lab_ssh.read_text())["all"]
    assert doc["vars"]["ansible_connection"] == "ssh"
    assert doc["vars"]["ansible_ssh_private_key_file"] == str(paths.ssh / "id_ed25519")
    assert "StrictHostKeyChecking=yes" in doc["vars"]["ansible_ssh_common_args"]
    assert set(doc["hosts"]) == {s.name for s in topology.sites}
    for site in topology.sites:
        assert doc["hosts"][site.name]["ansible_host"] == str(site.lab_address)
    # the lab inventory's groups and variables: the same roles could deploy over SSH
    lab = inventory.lab_inventory(topology)["all"]
    assert doc["children"] == lab["children"]
    assert doc["vars"]["drctl_systems"] == lab["vars"]["drctl_systems"]


def test_lab_ssh_inventory_reads_back_as_ssh_hosts(
    topology: Topology, paths: LabPaths, lab_ssh: Path
) -> None:
    inv = load_inventory(lab_ssh.parent)  # a directory names its hosts.yml
    brindisi = inv.host_for("brindisi", "ecm-db")
    assert brindisi.url == "ssh://root@127.10.1.1"
    assert brindisi.service_manager == "supervisor" and not brindisi.become
    assert brindisi.key_file == paths.ssh / "id_ed25519"
    assert brindisi.known_hosts == paths.ssh / "known_hosts"
    assert brindisi.data_root == str(paths.site_dir("brindisi"))
    assert brindisi.cgroup_root == str(paths.cgroup_root)
    assert {"patroni", "etcd", "ecm", "crm"} <= brindisi.groups
    assert brindisi.skipped_tags == ("monitoring",)


def test_each_lab_host_serves_its_sites_endpoints(topology: Topology, lab_ssh: Path) -> None:
    eps = host_endpoints(load_inventory(lab_ssh), topology)
    brindisi = {(e.service, e.port) for e in eps["brindisi"]}
    assert {("etcd", 2379), ("ecm-db", 5432), ("crm-db-patroni", 8009), ("ecm-app", 8080)} <= (
        brindisi
    )
    assert {e.service for e in eps["frontdoor"]} >= {"front-door-ecm", "front-door-crm"}
    # skipped at `lab up --skip-tags monitoring`: not expected to listen
    assert not [e for e in eps["newyork"] if e.service in ("prometheus", "drctl-exporter")]


def test_production_inventory_reads_as_systemd_hosts_with_sudo(topology: Topology) -> None:
    inv = load_inventory(PRODUCTION)
    db = inv.host_for("brindisi", "ecm-db")
    assert db.name == "brindisi-db" and db.url == "ssh://drctl@10.1.0.11"
    assert db.service_manager == "systemd" and db.become
    assert inv.host_for("brindisi", "etcd").name == "brindisi-etcd"
    eps = host_endpoints(inv, topology)
    assert ("ecm-db", "10.1.0.11", 5432) in {
        (e.service, str(e.address), e.port) for e in eps[db.name]
    }
    assert {e.service for e in eps["brindisi-etcd"]} >= {"etcd", "etcd-peer", "node-exporter"}


@pytest.mark.parametrize(
    ("manager", "verb", "expected"),
    [
        ("systemd", "kill", "systemctl kill -s KILL drctl-ecm-db.service"),
        ("systemd", "start", "systemctl start drctl-ecm-db.service"),
        ("supervisor", "kill", "/cg/drctl/brindisi/ecm-db/cgroup.kill"),
        ("supervisor", "start", "supervisorctl -c /lab/brindisi/supervisord.conf start ecm-db"),
        ("supervisor", "is_down", "find /cg/drctl/brindisi/ecm-db -name cgroup.procs"),
    ],
)
def test_service_steps_speak_each_service_manager(
    lab_ssh: Path, manager: str, verb: str, expected: str
) -> None:
    host = load_inventory(lab_ssh).host_for("brindisi")
    from dataclasses import replace

    host = replace(host, lab_root="/lab", cgroup_root="/cg/drctl")
    assert expected in getattr(MANAGERS[manager], verb)(host, "ecm-db")


def test_one_primary_per_cluster_across_hosts() -> None:
    def member(site: str, role: str, passed: bool = True) -> HostCheck:
        return HostCheck(site, site, "patroni ecm-db", passed, f"{role} running")

    ok = one_primary([member("brindisi", "primary"), member("valencia", "replica")])
    assert [(c.check, c.passed) for c in ok] == [("one primary ecm-db", True)]
    split = one_primary([member("brindisi", "primary"), member("valencia", "primary")])
    assert not split[0].passed and "brindisi, valencia" in split[0].detail
    assert not one_primary([member("valencia", "replica")])[0].passed


class FakeHypervisor:
    def __init__(self) -> None:
        self.off: set[str] = set()

    def power_off(self, site: str) -> None:
        self.off.add(site)

    def power_on(self, site: str) -> None:
        self.off.discard(site)

    def is_powered_off(self, site: str) -> bool:
        return site in self.off


def test_production_estate_asks_the_hypervisor_not_ssh(topology: Topology) -> None:
    hv = FakeHypervisor()
    estate = ProductionEstate(topology, "production", inventory=PRODUCTION, hypervisor=hv)
    assert estate.remote("valencia") == "ssh://drctl@10.2.0.10"
    estate.power_off("brindisi")
    assert estate.is_fenced("brindisi") and not estate.is_fenced("valencia")
    # a powered-off site has nothing running and no host to ask: no SSH connection is tried
    assert estate.is_service_down("brindisi", "ecm-db")
    with pytest.raises(NotImplementedError, match="firewalls"):
        estate.partition("brindisi")
    with pytest.raises(NotImplementedError):
        estate.add_latency("brindisi", 50)


@pytest.mark.parametrize(
    ("site", "service", "host"),
    [
        ("brindisi", "haproxy", "brindisi-app"),
        ("brindisi", "crm-db", "brindisi-db"),
        ("brindisi", "ecm-app", "brindisi-app"),
        ("newyork", "node-exporter", "newyork-etcd"),
        ("geneva", "hub-cache", "geneva-cache"),
    ],
)
def test_a_service_is_found_on_its_sites_host(site: str, service: str, host: str) -> None:
    assert load_inventory(PRODUCTION).host_for(site, service).name == host


def test_the_front_doors_haproxy_is_a_lab_host(lab_ssh: Path) -> None:
    assert load_inventory(lab_ssh).host_for("frontdoor", "haproxy").name == "frontdoor"


def test_a_service_no_host_runs_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="no host at geneva is in group patroni"):
        load_inventory(PRODUCTION).host_for("geneva", "ecm-db")
