"""Every listening endpoint the topology implies: one place to derive ports, used by the
validator (no two services on one address and port), the lab's inventory and status checks."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from drctl.topology.model import SiteService, Topology


@dataclass(frozen=True)
class Endpoint:
    site: str
    service: str  # e.g. "etcd", "ecm-db", "ecm-db-patroni", "ecm-app", "haproxy-ecm-db"
    address: IPv4Address
    port: int
    loc: tuple[str | int, ...]  # where in topology.yaml it comes from, for error messages

    @property
    def hostport(self) -> str:
        return f"{self.address}:{self.port}"


# site services on the standard ports: service -> (endpoint name, field of `ports`)
STANDARD: dict[SiteService, tuple[tuple[str, str], ...]] = {
    SiteService.ETCD: (("etcd", "etcd_client"), ("etcd-peer", "etcd_peer")),
    SiteService.NODE_EXPORTER: (("node-exporter", "node_exporter"),),
    SiteService.PROMETHEUS: (("prometheus", "prometheus"),),
    SiteService.EXPORTER: (("drctl-exporter", "exporter"),),
    SiteService.HUB_CACHE: (("hub-cache", "hub_cache"),),
}


def endpoints(topo: Topology) -> list[Endpoint]:
    out: list[Endpoint] = []
    p = topo.ports
    for site in topo.sites:
        addr = site.lab_address
        for svc in site.services:
            # a clash of standard ports is the ports section's doing: point there
            for name, port_field in STANDARD.get(svc, ()):
                port: int = getattr(p, port_field)
                out.append(Endpoint(site.name, name, addr, port, ("ports", port_field)))
            if svc is SiteService.HAPROXY:
                for j, system in enumerate(topo.systems):
                    out.append(
                        Endpoint(
                            site.name,
                            f"haproxy-{system.database.cluster}",
                            addr,
                            system.database.router_port,
                            ("systems", j, "database", "router_port"),
                        )
                    )
            elif svc is SiteService.FRONT_DOOR:
                for j, system in enumerate(topo.systems):
                    if system.app is not None:
                        out.append(
                            Endpoint(
                                site.name,
                                f"front-door-{system.name}",
                                addr,
                                system.app.port,
                                ("systems", j, "app", "port"),
                            )
                        )
    sites = {s.name: s for s in topo.sites}
    for j, system in enumerate(topo.systems):
        for site_name in system.placement:
            placed = sites.get(site_name)
            if placed is None:
                continue
            site = placed
            db = system.database
            dloc: tuple[str | int, ...] = ("systems", j, "database")
            out.append(Endpoint(site.name, db.cluster, site.lab_address, db.port, (*dloc, "port")))
            out.append(
                Endpoint(
                    site.name,
                    f"{db.cluster}-patroni",
                    site.lab_address,
                    db.patroni_port,
                    (*dloc, "patroni_port"),
                )
            )
            if system.app is not None:
                out.append(
                    Endpoint(
                        site.name,
                        f"{system.name}-app",
                        site.lab_address,
                        system.app.port,
                        ("systems", j, "app", "port"),
                    )
                )
    return out
