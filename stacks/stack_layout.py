"""What each site gets, derived from the topology and the stack config: pure data, no Pulumi.

One VM per kind of work at a site (see `VmKind`), named `<site>-<kind>`. Services share a VM
where the roles expect them on one address: a site's PostgreSQL members sit on its `db` VM
(their ports differ by topology), and the applications sit with the HAProxy database router
they connect through (roles/app connects to the router on its own address, as in the lab).
Addresses and VM ids are fixed offsets per kind, so they never move when the topology grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from stack_config import Size, StackSettings, VmKind

from drctl.topology import Site, SiteRole, SiteService, System, Topology

MANAGED_BY = "drctl"


@dataclass(frozen=True)
class Labels:
    """site, system, tier and managed-by: on every resource that takes tags."""

    site: str
    systems: tuple[str, ...]
    tier: int

    @property
    def system(self) -> str:
        # AWS tag values allow "+" but not ","; a VM serving both systems is "ecm+crm"
        return "+".join(self.systems) if self.systems else "platform"

    def aws_tags(self, **extra: str) -> dict[str, str]:
        return {
            "site": self.site,
            "system": self.system,
            "tier": str(self.tier),
            "managed-by": MANAGED_BY,
            **extra,
        }

    def proxmox_tags(self) -> list[str]:
        """Proxmox tags are bare words ([a-z0-9_+.-]); one tag per system."""
        systems = self.systems or ("platform",)
        tags = [f"site-{self.site}", f"tier-{self.tier}", f"managed-by-{MANAGED_BY}"]
        return sorted([*tags, *(f"system-{s}" for s in systems)])


@dataclass(frozen=True)
class HostPlan:
    name: str
    site: str
    kind: VmKind
    groups: tuple[str, ...]
    labels: Labels
    address: IPv4Address
    network: IPv4Network
    gateway: IPv4Address
    dns: tuple[IPv4Address, ...]
    vlan: int | None
    node: str
    vm_id: int | None
    size: Size
    protect: bool

    @property
    def cidr(self) -> str:
        return f"{self.address}/{self.network.prefixlen}"

    def output(self, endpoint: str) -> dict[str, Any]:
        """The host's entry in the stack output `hosts` (what the inventory is built from)."""
        return {
            "name": self.name,
            "site": self.site,
            "address": str(self.address),
            "kind": self.kind.value,
            "groups": list(self.groups),
            "systems": list(self.labels.systems),
            "tier": self.labels.tier,
            "node": self.node,
            "vm_id": self.vm_id,
            "proxmox_endpoint": endpoint,
        }


@dataclass(frozen=True)
class FailoverTarget:
    site: str
    address: IPv4Address
    failover: str  # PRIMARY or SECONDARY


@dataclass(frozen=True)
class FrontDoorRecordPlan:
    system: str
    name: str
    port: int
    labels: Labels
    targets: tuple[FailoverTarget, ...]


def site_kinds(topo: Topology, site: Site) -> list[VmKind]:
    services = set(site.services)
    kinds: list[VmKind] = []
    if SiteService.ETCD in services:
        kinds.append(VmKind.ETCD)
    if topo.systems_at(site.name):
        kinds.append(VmKind.DB)
    if SiteService.HAPROXY in services or _apps_at(topo, site.name):
        kinds.append(VmKind.APP)
    if services & {SiteService.PROMETHEUS, SiteService.EXPORTER}:
        kinds.append(VmKind.MONITOR)
    if SiteService.HUB_CACHE in services:
        kinds.append(VmKind.CACHE)
    return kinds


def plan_site(topo: Topology, settings: StackSettings, site_name: str) -> list[HostPlan]:
    site = topo.site(site_name)
    cfg = settings.sites[site_name]
    hosts = []
    for i, kind in enumerate(site_kinds(topo, site)):
        groups = _groups(topo, site, kind)
        if SiteService.NODE_EXPORTER in site.services:
            groups.append("node_exporter")
        hosts.append(
            HostPlan(
                name=f"{site.name}-{kind.value}",
                site=site.name,
                kind=kind,
                groups=tuple(groups),
                labels=_labels(topo, site.name, _served(topo, site, kind)),
                address=cfg.network[cfg.first_host + kind.offset],
                network=cfg.network,
                gateway=cfg.gateway,
                dns=tuple(cfg.dns),
                vlan=cfg.vlan,
                node=cfg.nodes[i % len(cfg.nodes)],
                vm_id=cfg.vm_id_base + kind.offset if cfg.vm_id_base is not None else None,
                size=settings.size(kind),
                protect=kind is VmKind.DB and settings.proxmox.protect_databases,
            )
        )
    return hosts


def data_centres(topo: Topology) -> list[Site]:
    """Sites that run Proxmox clusters of their own: both EDCs and headquarters."""
    return [s for s in topo.sites if s.role not in (SiteRole.FRONT_DOOR, SiteRole.REGIONAL_HUB)]


def plan_front_door(topo: Topology, settings: StackSettings) -> list[FrontDoorRecordPlan]:
    """One DNS name per application: PRIMARY at its preferred site, SECONDARY at the next."""
    records = []
    for system in topo.systems:
        if system.app is None:
            continue
        targets = []
        for site_name, failover in zip(system.placement, ("PRIMARY", "SECONDARY"), strict=False):
            address = settings.sites[site_name].public_address
            assert address is not None  # check_settings requires it where apps run
            targets.append(FailoverTarget(site_name, address, failover))
        records.append(
            FrontDoorRecordPlan(
                system=system.name,
                name=f"{system.name}.{settings.front_door.domain}",
                port=system.app.port,
                labels=_labels(topo, topo.front_door.name, [system]),
                targets=tuple(targets),
            )
        )
    return records


def backup_labels(topo: Topology, region: str) -> Labels:
    return _labels(topo, f"aws-{region}", topo.systems)


def _apps_at(topo: Topology, site: str) -> list[System]:
    return [s for s in topo.systems_at(site) if s.app is not None]


def _groups(topo: Topology, site: Site, kind: VmKind) -> list[str]:
    if kind is VmKind.ETCD:
        return ["etcd"]
    if kind is VmKind.DB:
        return ["patroni"]
    if kind is VmKind.APP:
        router = ["haproxy"] if SiteService.HAPROXY in site.services else []
        return router + [s.name for s in _apps_at(topo, site.name)]
    if kind is VmKind.MONITOR:
        return [
            group
            for service, group in (
                (SiteService.PROMETHEUS, "prometheus"),
                (SiteService.EXPORTER, "drctl_exporter"),
            )
            if service in site.services
        ]
    return ["hub_cache"]


def _served(topo: Topology, site: Site, kind: VmKind) -> list[System]:
    """The systems a VM serves, for its labels."""
    if kind is VmKind.DB:
        return topo.systems_at(site.name)
    if kind is VmKind.APP:
        return _apps_at(topo, site.name) or topo.systems_at(site.name)
    if kind is VmKind.CACHE:
        return [topo.system(name) for name in site.caches]
    return list(topo.systems)  # etcd and monitoring serve every cluster


def _labels(topo: Topology, site: str, systems: list[System]) -> Labels:
    tier = min((s.tier for s in systems), default=min(t.level for t in topo.tiers))
    return Labels(site, tuple(s.name for s in systems), tier)
