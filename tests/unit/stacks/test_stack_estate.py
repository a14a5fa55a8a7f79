"""The VMs the stack declares match the topology: per site, per role, per system."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest
import yaml
from stack_harness import TEST_KEY, Res, StackRun, stack_output_json

from drctl import REPO_ROOT
from drctl.lab.inventory import groups as lab_groups
from drctl.topology import SiteRole, SiteService, Topology

VM = "proxmoxve:index/vmLegacy:VmLegacy"
SNIPPET = "proxmoxve:index/fileLegacy:FileLegacy"


def vms_at(run: StackRun, site: str) -> list[Res]:
    return [r for r in run.of_type(VM) if f"site-{site}" in r.inputs["tags"]]


def host(run: StackRun, name: str) -> Any:
    (found,) = [h for h in run.outputs["hosts"] if h["name"] == name]
    return found


def test_one_component_per_site(production: StackRun, topology: Topology) -> None:
    edcs = {r.name for r in production.of_type("drctl:index:EnterpriseDataCentre")}
    hubs = {r.name for r in production.of_type("drctl:index:RegionalHub")}
    assert hubs == {s.name for s in topology.hubs}
    assert edcs == {
        s.name
        for s in topology.sites
        if s.role in (SiteRole.PRIMARY_EDC, SiteRole.SECONDARY_EDC, SiteRole.HEADQUARTERS)
    }
    assert not vms_at(production, topology.front_door.name)  # Route 53, not VMs


def test_each_site_has_its_own_proxmox_provider(production: StackRun) -> None:
    providers = production.of_type("pulumi:providers:proxmoxve")
    assert len({p.inputs["endpoint"] for p in providers}) == len(providers) == 10
    for vm in production.of_type(VM):
        site = vm.name.rsplit("-", 1)[0]
        assert f"::{site}-proxmox::" in vm.provider


def test_database_members_where_the_topology_places_them(
    production: StackRun, topology: Topology
) -> None:
    for system in topology.systems:
        for site in system.placement:
            members = [
                h
                for h in production.outputs["hosts"]
                if h["site"] == site and "patroni" in h["groups"] and system.name in h["systems"]
            ]
            assert len(members) == 1, (system.name, site)
    sites_with_db = {h["site"] for h in production.outputs["hosts"] if "patroni" in h["groups"]}
    assert sites_with_db == {site for s in topology.systems for site in s.placement}


def test_every_tier_1_system_has_members_at_both_data_centres(
    production: StackRun, topology: Topology
) -> None:
    edcs = {s.name for s in topology.sites if s.role.is_data_centre}
    assert len(edcs) == 2
    for system in (s for s in topology.systems if s.tier == 1):
        db_sites = {
            vm.name.rsplit("-", 1)[0]
            for vm in production.of_type(VM)
            if vm.name.endswith("-db") and f"system-{system.name}" in vm.inputs["tags"]
        }
        assert db_sites == edcs, system.name


@pytest.mark.parametrize(
    ("service", "group"),
    [
        (SiteService.ETCD, "etcd"),
        (SiteService.HAPROXY, "haproxy"),
        (SiteService.HUB_CACHE, "hub_cache"),
        (SiteService.PROMETHEUS, "prometheus"),
        (SiteService.EXPORTER, "drctl_exporter"),
        (SiteService.NODE_EXPORTER, "node_exporter"),
    ],
)
def test_site_services_have_hosts(
    production: StackRun, topology: Topology, service: SiteService, group: str
) -> None:
    sites = {h["site"] for h in production.outputs["hosts"] if group in h["groups"]}
    expected = {s.name for s in topology.sites_with(service)} - {topology.front_door.name}
    assert sites == expected
    if group == "etcd":  # one member per site: quorum survives the loss of any one site
        members = [h for h in production.outputs["hosts"] if group in h["groups"]]
        assert len(members) == len(expected) == 3


def test_groups_are_the_lab_inventory_groups(production: StackRun, topology: Topology) -> None:
    stack_groups = {g for h in production.outputs["hosts"] for g in h["groups"]}
    expected = {g for g, members in lab_groups(topology).items() if members} - {"front_door"}
    assert stack_groups == expected


def test_applications_run_beside_their_database_router(
    production: StackRun, topology: Topology
) -> None:
    for system in topology.systems:
        if system.app is None:
            continue
        for site in system.placement:
            (app,) = [
                h
                for h in production.outputs["hosts"]
                if h["site"] == site and system.name in h["groups"]
            ]
            assert "haproxy" in app["groups"]  # roles/app connects to the router on its own address


def test_addresses_are_static_unique_and_in_the_site_network(production: StackRun) -> None:
    hosts = production.outputs["hosts"]
    networks = production.outputs["networks"]
    assert len({h["address"] for h in hosts}) == len(hosts)
    assert len({h["name"] for h in hosts}) == len(hosts)
    for h in hosts:
        assert ipaddress.ip_address(h["address"]) in ipaddress.ip_network(networks[h["site"]])
    assert host(production, "brindisi-db")["address"] == "10.1.0.11"
    assert host(production, "brindisi-db")["vm_id"] == 1101
    vm = production.named("brindisi-db")
    (ip,) = vm.inputs["initialization"]["ipConfigs"]
    assert ip["ipv4"] == {"address": "10.1.0.11/24", "gateway": "10.1.0.1"}


def test_vm_sizes_come_from_the_stack(production: StackRun, staging: StackRun) -> None:
    prod, stg = production.named("brindisi-db"), staging.named("brindisi-db")
    assert prod.inputs["cpu"]["cores"] == 8 and prod.inputs["memory"]["dedicated"] == 32768
    assert prod.inputs["disks"][0]["size"] == 500
    assert stg.inputs["cpu"]["cores"] == 2 and stg.inputs["memory"]["dedicated"] == 4096
    assert prod.inputs["protection"] is True and stg.inputs["protection"] is False
    assert stg.inputs["networkDevices"][0]["vlanId"] == 101


def test_vms_are_clones_of_the_template(production: StackRun) -> None:
    for vm in production.of_type(VM):
        assert vm.inputs["clone"]["vmId"] == 9000
        assert vm.inputs["clone"]["full"] is True
        assert vm.inputs["agent"]["enabled"] is True
        assert vm.inputs["name"] == vm.name


def test_cloud_init_user_data_carries_the_ssh_key(production: StackRun) -> None:
    snippets = {s.name: s for s in production.of_type(SNIPPET)}
    assert len(snippets) == len(production.of_type(VM))
    for vm in production.of_type(VM):
        snippet = snippets[f"{vm.name.rsplit('-', 1)[0]}-{vm.name.rsplit('-', 1)[1]}-user-data"]
        assert vm.inputs["initialization"]["userDataFileId"] == f"{snippet.name}-id"
        assert snippet.inputs["contentType"] == "snippets"
        data = snippet.inputs["sourceRaw"]["data"]
        assert data.startswith("#cloud-config\n")
        doc = yaml.safe_load(data)
        assert doc["hostname"] == vm.name
        (user,) = doc["users"]
        assert user["name"] == "drctl"
        assert user["ssh_authorized_keys"] == [TEST_KEY]
        assert doc["ssh_pwauth"] is False


def test_staging_has_the_same_layout(production: StackRun, staging: StackRun) -> None:
    def shape(run: StackRun) -> list[tuple[str, str, tuple[str, ...]]]:
        return sorted((h["name"], h["site"], tuple(h["groups"])) for h in run.outputs["hosts"])

    assert shape(staging) == shape(production)
    assert staging.outputs["backup"]["bucket"] == "drctl-staging-pgbackrest"


def test_inventory_fixture_is_what_the_stack_exports() -> None:
    """The contract between the stack and `drctl inventory from-stack`: the inventory tests'
    fixture is exactly this program's output (regenerate: see stack_harness.py)."""
    fixture = (
        REPO_ROOT / "tests" / "unit" / "inventory" / "fixtures" / "production-stack-output.json"
    )
    assert json.loads(stack_output_json()) == json.loads(fixture.read_text()), (
        "stale fixture: .venv/bin/python tests/unit/stacks/stack_harness.py > " + str(fixture)
    )
