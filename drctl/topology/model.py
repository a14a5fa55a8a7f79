"""The typed model of inventories/topology.yaml: sites, systems, tiers and standard ports.

Validated at the edge (`drctl.topology.load`), then trusted by every other module.
"""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Address
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$", max_length=40)]
# YAML already types its scalars: a quoted "5432", or a `yes` where a number belongs, is a
# mistake in the file, not something to coerce. Numbers and flags are strict.
Port = Annotated[int, Field(strict=True, ge=1, le=65535)]
Level = Annotated[int, Field(strict=True, ge=1, le=3)]
Count = Annotated[int, Field(strict=True, ge=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class SiteRole(StrEnum):
    PRIMARY_EDC = "primary-edc"
    SECONDARY_EDC = "secondary-edc"
    HEADQUARTERS = "headquarters"
    FRONT_DOOR = "front-door"
    REGIONAL_HUB = "regional-hub"

    @property
    def is_data_centre(self) -> bool:
        return self in (SiteRole.PRIMARY_EDC, SiteRole.SECONDARY_EDC)


class SiteService(StrEnum):
    """Services a site runs besides the systems placed on it."""

    ETCD = "etcd"
    HAPROXY = "haproxy"
    FRONT_DOOR = "front-door"
    HUB_CACHE = "hub-cache"
    NODE_EXPORTER = "node-exporter"
    PROMETHEUS = "prometheus"
    EXPORTER = "drctl-exporter"


class Replication(StrEnum):
    SYNCHRONOUS = "synchronous"
    ASYNCHRONOUS = "asynchronous"


class Site(Strict):
    name: Name
    role: SiteRole
    location: str
    country: str
    lab_address: IPv4Address
    distance_km: Annotated[int, Field(strict=True, ge=0)] = Field(
        description="distance from the primary EDC"
    )
    team: str = Field(min_length=1, description="the site's incident team")
    outsourced: bool = Field(default=False, strict=True)
    services: list[SiteService] = []
    caches: list[Name] = Field(default=[], description="systems whose downloads a hub caches")


class Tier(Strict):
    level: Level
    name: str
    replication: Replication
    drill_every_days: Count


class Objectives(Strict):
    rto_seconds: Annotated[float, Field(strict=True, gt=0)]
    rpo_seconds: Annotated[float, Field(strict=True, ge=0)]


class Database(Strict):
    cluster: Name
    port: Port
    patroni_port: Port
    router_port: Port = Field(description="site HAProxy port that follows the cluster's leader")


class App(Strict):
    port: Port


class System(Strict):
    name: Name
    title: str
    tier: Level
    objectives: Objectives
    depends_on: list[Name] = []
    recovery_order: Count
    placement: list[Name] = Field(
        min_length=1, description="sites; the first is the preferred primary"
    )
    replication: Replication
    database: Database
    app: App | None = None


class Ports(Strict):
    etcd_client: Port = 2379
    etcd_peer: Port = 2380
    node_exporter: Port = 9100
    prometheus: Port = 9090
    exporter: Port = 9180
    hub_cache: Port = 80


class Topology(Strict):
    version: int = Field(strict=True, ge=1, le=1)
    organisation: str
    ports: Ports = Ports()
    tiers: list[Tier]
    sites: list[Site]
    systems: list[System]

    def site(self, name: str) -> Site:
        for site in self.sites:
            if site.name == name:
                return site
        raise KeyError(name)

    def system(self, name: str) -> System:
        for system in self.systems:
            if system.name == name:
                return system
        raise KeyError(name)

    def tier(self, level: int) -> Tier:
        for tier in self.tiers:
            if tier.level == level:
                return tier
        raise KeyError(level)

    def sites_with(self, service: SiteService) -> list[Site]:
        return [s for s in self.sites if service in s.services]

    @property
    def front_door(self) -> Site:
        return next(s for s in self.sites if s.role is SiteRole.FRONT_DOOR)

    @property
    def hubs(self) -> list[Site]:
        return [s for s in self.sites if s.role is SiteRole.REGIONAL_HUB]

    def systems_at(self, site: str) -> list[System]:
        return [s for s in self.systems if site in s.placement]

    def recovery_waves(self) -> list[list[System]]:
        """Systems grouped into waves: each wave depends only on earlier ones (run in parallel)."""
        done: set[str] = set()
        waves: list[list[System]] = []
        pending = sorted(self.systems, key=lambda s: (s.tier, s.recovery_order, s.name))
        while pending:
            wave = [s for s in pending if set(s.depends_on) <= done]
            if not wave:  # a cycle; validation rejects this before anyone asks
                raise ValueError("dependency cycle")
            waves.append(wave)
            done |= {s.name for s in wave}
            pending = [s for s in pending if s.name not in done]
        return waves
