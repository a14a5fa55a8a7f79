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


def endpoints(topo: Topology) -> list[Endpoint]:
    out: list[Endpoint] = []
    p = topo.ports
    for i, site in enumerate(topo.sites):
        addr = site.lab_address
        loc: tuple[str | int, ...] = ("sites", i, "services")
        for svc in site.services:
            if svc is SiteService.ETCD:
                out.append(Endpoint(site.name, "etcd", addr, p.etcd_client, loc))
                out.append(Endpoint(site.name, "etcd-peer", addr, p.etcd_peer, loc))
            elif svc is SiteService.NODE_EXPORTER:
                out.append(Endpoint(site.name, "node-exporter", addr, p.node_exporter, loc))
            elif svc is SiteService.PROMETHEUS:
                out.append(Endpoint(site.name, "prometheus", addr, p.prometheus, loc))
            elif svc is SiteService.EXPORTER:
                out.append(Endpoint(site.name, "drctl-exporter", addr, p.exporter, loc))
            elif svc is SiteService.HUB_CACHE:
                out.append(Endpoint(site.name, "hub-cache", addr, p.hub_cache, loc))
            elif svc is SiteService.HAPROXY:
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
