"""The Estate interface: everything a drill or runbook may do to an estate.

Two implementations share it: `lab` (processes on loopback, cgroups, iptables) and
`production` (Proxmox, SSH, AWS). Every fault has its inverse; optional abilities raise
NotImplementedError.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from drctl.errors import DrctlError
from drctl.estate.patroni import Cluster
from drctl.topology.model import Topology


@dataclass(frozen=True)
class ServiceHealth:
    site: str
    service: str
    endpoint: str
    healthy: bool
    detail: str = ""


@dataclass(frozen=True)
class HostCheck:
    """One verification check run on a host itself (testinfra over SSH): `drctl verify`."""

    host: str
    site: str
    check: str
    passed: bool
    detail: str = ""


class Estate(ABC):
    """A running estate: sites with services, described by a topology."""

    name: str = "estate"

    def __init__(self, topology: Topology) -> None:
        self.topology = topology

    @abstractmethod
    def address(self, site: str) -> str:
        """The address the site's services bind."""

    @abstractmethod
    def power_off(self, site: str) -> None:
        """Every process at the site dies at once, as in a power cut."""

    @abstractmethod
    def power_on(self, site: str) -> None:
        """Start the site's services again (data survives, as on disks)."""

    @abstractmethod
    def partition(self, site: str) -> None:
        """Cut the site off from every other site, both ways."""

    @abstractmethod
    def heal(self, site: str) -> None:
        """Undo `partition`."""

    @abstractmethod
    def kill_service(self, site: str, service: str) -> None:
        """SIGKILL one service (all its processes) at a site."""

    @abstractmethod
    def start_service(self, site: str, service: str) -> None:
        """Start one service at a site."""

    def stop_service(self, site: str, service: str) -> None:
        """Stop one service cleanly (SIGTERM, wait). Estates without a service manager kill it."""
        self.kill_service(site, service)

    def restore_script(self, site: str) -> str:
        """Path of drctl-pg-restore at the site (roles/pgbackrest)."""
        return "/usr/local/sbin/drctl-pg-restore"

    @abstractmethod
    def is_fenced(self, site: str) -> bool:
        """True only when the site can no longer serve or replicate: powered off or cut off."""

    @abstractmethod
    def is_service_down(self, site: str, service: str) -> bool:
        """True when none of the service's processes runs."""

    @abstractmethod
    def health(self) -> list[ServiceHealth]:
        """Every service of the estate with its health."""

    def add_latency(self, site: str, ms: float) -> None:
        raise NotImplementedError("this estate cannot inject WAN latency")

    def remove_latency(self, site: str) -> None:
        raise NotImplementedError("this estate cannot inject WAN latency")

    def secret(self, name: str) -> str:
        """A credential (db_superuser, prober_token, ...): the lab generates them at `lab up`;
        production reads DRCTL_SECRET_<NAME> from the environment."""
        import os

        value = os.environ.get(f"DRCTL_SECRET_{name.upper()}")
        if value is None:
            raise NotImplementedError(f"set DRCTL_SECRET_{name.upper()}")
        return value

    def clusters(self) -> dict[str, Cluster]:
        """Each system's Patroni cluster, with the REST credentials when the estate has them."""
        try:
            auth: tuple[str, str] | None = ("drctl", self.secret("patroni_rest"))
        except (NotImplementedError, DrctlError):
            auth = None
        addresses = {s.name: self.address(s.name) for s in self.topology.sites}
        return {s.name: Cluster(self.topology, s, addresses, auth) for s in self.topology.systems}

    def latency(self, site: str) -> float | None:
        """The WAN latency (ms) currently injected at `site`, None when there is none."""
        return None

    def run_command(self, site: str, command: str, timeout: float = 60) -> str:
        raise NotImplementedError("this estate cannot run commands")

    def verify(self, skip_fenced: bool = True) -> list[HostCheck]:
        """Checks run on each host (services listening, Patroni role, disk, keys); a fenced
        site's hosts are left out when `skip_fenced`."""
        raise NotImplementedError("this estate has no host-level verification")

    def remote(self, site: str) -> str | None:
        """How actions at a site are carried out, for the journal (e.g. ssh://host)."""
        return None

    def contacted(self) -> list[str]:
        """The remote hosts (e.g. ssh://host) the calling thread's actions reached since it
        last asked: the journal records where each activity really ran. Local estates: none."""
        return []
