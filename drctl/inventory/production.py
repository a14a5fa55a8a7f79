"""The production Ansible inventory: the lab inventory's groups and variables, with the hosts,
addresses and service manager of the estate Pulumi built.

The roles are the lab's. Where the lab has one address per site, production has a VM per kind
of work (stacks/stack_layout.py), so the site-level variables the roles read point at the VM
that does the work: `drctl_site_addresses` at each site's database members (what the routers
and Patroni replicas connect to), `drctl_etcd_members` at the etcd VMs, and
`drctl_front_door_address` at the Route 53 name of the application the hubs cache.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from drctl import REPO_ROOT
from drctl.errors import ConfigError, Problem
from drctl.inventory.stack_output import StackHost, StackOutput
from drctl.lab.inventory import groups as lab_groups
from drctl.lab.inventory import topology_vars
from drctl.topology.model import SiteService, Topology

DEFAULT_OUT = REPO_ROOT / "inventories" / "production"
HOSTS_FILE = "hosts.yml"
# the host whose address stands for its site, best first
SITE_ADDRESS_GROUPS = ("patroni", "haproxy", "etcd", "hub_cache", "prometheus")
# members named after their site (etcd --name, Patroni <cluster>-<site>): one per site
ONE_PER_SITE = ("etcd", "patroni")


def header(stack: str | None) -> str:
    source = f"stack {stack}" if stack else "the stack"
    return (
        f"# Generated from `pulumi stack output --json` ({source}) by "
        "`drctl inventory from-stack`; do not edit.\n"
    )


def check(out: StackOutput, topo: Topology, source: Path) -> list[Problem]:
    """The stack's hosts must be the topology's: known sites and groups, every placement met."""
    problems: list[Problem] = []

    def add(field: str, message: str) -> None:
        problems.append(Problem(source, None, field, message))

    sites = {s.name for s in topo.sites}
    expected = lab_groups(topo)
    names: set[str] = set()
    addresses: dict[str, str] = {}
    for i, host in enumerate(out.hosts):
        if host.name in names:
            add(f"hosts[{i}].name", f"duplicate host {host.name!r}")
        names.add(host.name)
        if str(host.address) in addresses:
            add(
                f"hosts[{i}].address",
                f"{host.address} is already the address of {addresses[str(host.address)]!r}",
            )
        addresses.setdefault(str(host.address), host.name)
        if host.site not in sites:
            add(f"hosts[{i}].site", f"unknown site {host.site!r} (not in the topology)")
        for j, group in enumerate(host.groups):
            if group not in expected:
                add(
                    f"hosts[{i}].groups[{j}]",
                    f"unknown group {group!r}; expected one of {', '.join(expected)}",
                )
    if problems:
        return problems
    for group, members in expected.items():
        if group == "front_door":  # Route 53 in production, no hosts
            continue
        hosts = [h for h in out.hosts if group in h.groups]
        have, want = {h.site for h in hosts}, set(members) - {topo.front_door.name}
        if have != want:
            add(
                "hosts",
                f"group {group!r} has hosts at {_names(have)} but the topology places it at "
                f"{_names(want)}",
            )
        if group in ONE_PER_SITE:
            per_site: dict[str, list[str]] = defaultdict(list)
            for h in hosts:
                per_site[h.site].append(h.name)
            for site, hs in per_site.items():
                if len(hs) > 1:
                    add("hosts", f"group {group!r} has {len(hs)} hosts at {site}: {', '.join(hs)}")
    for name in _cached_systems(topo):
        if name not in out.front_door.records:
            add(f"front_door.records.{name}", "missing: the regional hubs fetch through it")
    return problems


def production_inventory(out: StackOutput, topo: Topology, source: Path) -> dict[str, Any]:
    problems = check(out, topo, source)
    if problems:
        raise ConfigError(problems)
    by_group: dict[str, list[StackHost]] = defaultdict(list)
    for host in out.hosts:
        for group in host.groups:
            by_group[group].append(host)
    variables: dict[str, Any] = {
        "ansible_connection": "ssh",
        "ansible_user": out.ssh_user,
        "ansible_become": True,
        "ansible_python_interpreter": "/usr/bin/python3",
        "drctl_service_manager": "systemd",
        "drctl_data_root": "/var/lib/drctl",
        **topology_vars(topo),
    }
    # same keys, same places as the lab's; production values
    variables["drctl_site_addresses"] = _site_addresses(out, topo)
    variables["drctl_front_door_address"] = _front_door_address(out, topo)
    variables["drctl_etcd_members"] = [
        {"name": h.site, "address": str(h.address)}
        for site in topo.sites_with(SiteService.ETCD)
        for h in by_group["etcd"]
        if h.site == site.name
    ]
    variables["patroni_hba_networks"] = _database_networks(out, by_group)
    variables["drctl_front_door"] = {k: r.name for k, r in out.front_door.records.items()}
    if out.backup is not None:
        variables["drctl_backup"] = out.backup.model_dump(exclude_none=True)
    order = [g for g in lab_groups(topo) if by_group.get(g)]
    return {
        "all": {
            "vars": variables,
            "hosts": {h.name: _host_vars(h) for h in out.hosts},
            "children": {g: {"hosts": {h.name: None for h in by_group[g]}} for g in order},
        }
    }


def render(out: StackOutput, topo: Topology, source: Path) -> str:
    inventory = production_inventory(out, topo, source)
    return header(out.stack) + yaml.safe_dump(inventory, sort_keys=False, width=100)


def write(out: StackOutput, topo: Topology, source: Path, directory: Path = DEFAULT_OUT) -> Path:
    """Write `<directory>/hosts.yml`; returns its path. Nothing is written when invalid."""
    text = render(out, topo, source)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / HOSTS_FILE
    path.write_text(text, encoding="utf-8")
    return path


def _host_vars(host: StackHost) -> dict[str, Any]:
    hostvars: dict[str, Any] = {
        "ansible_host": str(host.address),
        "drctl_site": host.site,
        "drctl_address": str(host.address),
    }
    if host.kind:
        hostvars["drctl_kind"] = host.kind
    proxmox = {
        k: v
        for k, v in (
            ("endpoint", host.proxmox_endpoint),
            ("node", host.node),
            ("vm_id", host.vm_id),
        )
        if v is not None
    }
    if proxmox:  # for the production estate driver: power, snapshots
        hostvars["drctl_proxmox"] = proxmox
    return hostvars


def _site_addresses(out: StackOutput, topo: Topology) -> dict[str, str]:
    addresses: dict[str, str] = {}
    for site in topo.sites:
        hosts = [h for h in out.hosts if h.site == site.name]
        if not hosts:
            continue
        ranked = sorted(
            hosts,
            key=lambda h: min(
                (SITE_ADDRESS_GROUPS.index(g) for g in h.groups if g in SITE_ADDRESS_GROUPS),
                default=len(SITE_ADDRESS_GROUPS),
            ),
        )
        addresses[site.name] = str(ranked[0].address)
    return addresses


def _cached_systems(topo: Topology) -> list[str]:
    return list(dict.fromkeys(name for hub in topo.hubs for name in hub.caches))


def _front_door_address(out: StackOutput, topo: Topology) -> str:
    """The hubs' origin (roles/hub_cache): the DNS name of the application they cache."""
    records = out.front_door.records
    for name in _cached_systems(topo):
        if name in records:
            return records[name].name
    return next(iter(records.values())).name if records else out.front_door.domain


def _database_networks(out: StackOutput, by_group: dict[str, list[StackHost]]) -> list[str]:
    """Who may connect to PostgreSQL: the members themselves (replication) and the routers."""
    networks: list[str] = []
    for host in by_group["patroni"] + by_group["haproxy"]:
        network = out.networks.get(host.site)
        entry = str(network) if network is not None else f"{host.address}/32"
        if entry not in networks:
            networks.append(entry)
    return networks


def _names(sites: set[str]) -> str:
    return ", ".join(sorted(sites)) or "no site"
