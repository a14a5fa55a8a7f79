"""The lab's Ansible inventories, generated from the topology (never written by hand twice).

`inventories/lab/hosts.yml` is committed so readers see what the roles get; `lab up`
regenerates it and a unit test proves the committed copy is current.

`inventories/lab-ssh/hosts.yml` is the same inventory reached over SSH (the `lab-ssh` target,
`drctl verify`): each site's sshd on its address, root with the controller's key. `lab up`
writes it too; it names this machine's key and cgroup paths, so it is not committed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from drctl import REPO_ROOT
from drctl.lab.paths import LabPaths
from drctl.lab.ssh import SshFiles
from drctl.topology.model import SiteRole, SiteService, Topology

LAB_INVENTORY = REPO_ROOT / "inventories" / "lab" / "hosts.yml"
LAB_SSH_INVENTORY = REPO_ROOT / "inventories" / "lab-ssh" / "hosts.yml"

HEADER = "# Generated from inventories/topology.yaml by `drctl lab up`; do not edit.\n"


def topology_vars(topo: Topology) -> dict[str, Any]:
    """What every role needs to know about the estate, as plain data."""
    return {
        "drctl_ports": topo.ports.model_dump(),
        "drctl_site_addresses": {s.name: str(s.lab_address) for s in topo.sites},
        "drctl_front_door_address": str(topo.front_door.lab_address),
        "drctl_etcd_members": [
            {"name": s.name, "address": str(s.lab_address)}
            for s in topo.sites_with(SiteService.ETCD)
        ],
        "drctl_systems": [
            {
                "name": s.name,
                "tier": s.tier,
                "cluster": s.database.cluster,
                "port": s.database.port,
                "patroni_port": s.database.patroni_port,
                "router_port": s.database.router_port,
                "app_port": s.app.port if s.app else None,
                "placement": list(s.placement),
                "replication": str(s.replication),
            }
            for s in topo.systems
        ],
    }


def groups(topo: Topology) -> dict[str, list[str]]:
    g: dict[str, list[str]] = {
        "etcd": [s.name for s in topo.sites_with(SiteService.ETCD)],
        "patroni": sorted({site for s in topo.systems for site in s.placement}),
        "haproxy": [s.name for s in topo.sites_with(SiteService.HAPROXY)],
        "front_door": [s.name for s in topo.sites if s.role is SiteRole.FRONT_DOOR],
        "hub_cache": [s.name for s in topo.sites_with(SiteService.HUB_CACHE)],
        "node_exporter": [s.name for s in topo.sites_with(SiteService.NODE_EXPORTER)],
        "prometheus": [s.name for s in topo.sites_with(SiteService.PROMETHEUS)],
        "drctl_exporter": [s.name for s in topo.sites_with(SiteService.EXPORTER)],
    }
    for system in topo.systems:
        if system.app is not None:
            g[system.name] = list(system.placement)
    return g


def lab_inventory(topo: Topology) -> dict[str, Any]:
    hosts = {
        s.name: {"drctl_site": s.name, "drctl_address": str(s.lab_address)} for s in topo.sites
    }
    return {
        "all": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": "/usr/bin/python3",
                "drctl_service_manager": "supervisor",
                "drctl_data_root": "{{ drctl_lab_root }}/{{ drctl_site }}",
                **topology_vars(topo),
            },
            "hosts": hosts,
            "children": {
                name: {"hosts": {h: None for h in members}}
                for name, members in groups(topo).items()
                if members
            },
        }
    }


def lab_ssh_inventory(
    topo: Topology, paths: LabPaths, skipped_tags: list[str] | None = None
) -> dict[str, Any]:
    """The lab inventory, reached over SSH: every site's sshd (roles/sshd) as root."""
    inventory = lab_inventory(topo)
    files = SshFiles.of(paths)
    inventory["all"]["vars"].update(
        {
            "ansible_connection": "ssh",
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(files.key),
            "ansible_ssh_common_args": (
                f"-o UserKnownHostsFile={files.known_hosts} -o StrictHostKeyChecking=yes"
            ),
            "drctl_ssh_known_hosts": str(files.known_hosts),
            "drctl_lab_root": str(paths.lab),
            "drctl_cgroup_root": str(paths.cgroup_root),
            "drctl_lab_skipped_tags": sorted(skipped_tags or []),
        }
    )
    for name, host in inventory["all"]["hosts"].items():
        host["ansible_host"] = host["drctl_address"]
        host["drctl_data_root"] = str(paths.site_dir(name))
    return inventory


def render(topo: Topology) -> str:
    return HEADER + yaml.safe_dump(lab_inventory(topo), sort_keys=False, width=100)


def render_ssh(topo: Topology, paths: LabPaths, skipped_tags: list[str] | None = None) -> str:
    inventory = lab_ssh_inventory(topo, paths, skipped_tags)
    return HEADER + yaml.safe_dump(inventory, sort_keys=False, width=100)


def write(topo: Topology, path: Path = LAB_INVENTORY, text: str | None = None) -> bool:
    """Write the inventory (the lab's unless `text` is given); True when the file changed."""
    text = render(topo) if text is None else text
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True
