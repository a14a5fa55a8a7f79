"""The production estate driver (DESIGN §4): hosts reached over SSH, a hypervisor for power.

Two targets share it:
- `production`: the inventory Pulumi built (inventories/production/), systemd on every host,
  Proxmox VE for power (drctl.production.proxmox), no partition ability yet;
- `lab-ssh`: the lab reached the production way (inventories/lab-ssh/, written at `lab up`):
  each site's sshd, its supervisor and cgroups on the far side of SSH. The lab itself stands in
  for Proxmox and the WAN (`LabHypervisor`, `LabNetwork`): a site's power and its network
  cables are outside the hosts in production too.

Service and command steps (kill, start, is-down, run) go through pyinfra over SSH to the host
of the site that runs the service; verification runs testinfra checks on each host.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Protocol

from drctl import REPO_ROOT
from drctl.errors import DrctlError, EstateError
from drctl.estate.base import Estate, HostCheck, ServiceHealth
from drctl.production.hosts import SshInventory, load_inventory
from drctl.production.ssh import MANAGERS, SshSession
from drctl.topology.model import Topology

INVENTORIES = {
    "lab-ssh": REPO_ROOT / "inventories" / "lab-ssh",
    "production": REPO_ROOT / "inventories" / "production",
}
BOOT_TIMEOUT = 120.0  # after power on: until every host of the site answers over SSH


class Hypervisor(Protocol):
    """Whole-site power, as drctl.production.proxmox.ProxmoxHypervisor provides it."""

    def power_off(self, site: str) -> None: ...
    def power_on(self, site: str) -> None: ...
    def is_powered_off(self, site: str) -> bool: ...


class Network(Protocol):
    def partition(self, site: str) -> None: ...
    def heal(self, site: str) -> None: ...
    def partitioned(self) -> set[str]: ...


class LabHypervisor:
    """The lab stands in for Proxmox: a site's "VMs" are its cgroup (power off = one
    cgroup.kill, power on = start the site's supervisor, which starts its services)."""

    def __init__(self, topology: Topology) -> None:
        from drctl.estate.lab import LabEstate

        self.lab = LabEstate(topology)

    def power_off(self, site: str) -> None:
        self.lab.power_off(site)

    def power_on(self, site: str) -> None:
        self.lab.power_on(site)

    def is_powered_off(self, site: str) -> bool:
        from drctl.lab import cgroups

        return not cgroups.pids(self.lab.paths.site_cgroup(site))


class LabNetwork:
    """The lab stands in for the WAN: partitions are its iptables rules (drctl.lab.firewall)."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology

    def partition(self, site: str) -> None:
        from drctl.lab import firewall

        firewall.partition(self.topology, site)

    def heal(self, site: str) -> None:
        from drctl.lab import firewall

        firewall.heal(site)

    def partitioned(self) -> set[str]:
        from drctl.lab import firewall

        return firewall.partitioned()


class NoNetworkControl:
    def partition(self, site: str) -> None:
        raise NotImplementedError(
            "production partitions need the data centres' firewalls; not automated yet "
            "(run the partition drills on the lab or lab-ssh targets)"
        )

    def heal(self, site: str) -> None:
        self.partition(site)

    def partitioned(self) -> set[str]:
        return set()


class ProductionEstate(Estate):
    """An estate reached over SSH; `target` is "lab-ssh" or "production"."""

    def __init__(
        self,
        topology: Topology,
        target: str,
        inventory: SshInventory | Path | None = None,
        hypervisor: Hypervisor | None = None,
        network: Network | None = None,
    ) -> None:
        super().__init__(topology)
        if target not in INVENTORIES:
            raise DrctlError(f"unknown SSH target {target!r}; expected lab-ssh or production")
        self.name = target
        self.target = target
        if not isinstance(inventory, SshInventory):
            path = inventory or INVENTORIES[target]
            if target == "lab-ssh" and not Path(path).exists():
                raise EstateError(f"{path} does not exist: run `drctl lab up` (it writes it)")
            inventory = load_inventory(Path(path))
        self.inventory = inventory
        self.ssh = SshSession(inventory)
        self._hypervisor = hypervisor
        self.network: Network = network or (
            LabNetwork(topology) if target == "lab-ssh" else NoNetworkControl()
        )

    # -- where things are ---------------------------------------------------------------------
    @property
    def hypervisor(self) -> Hypervisor:
        if self._hypervisor is None:
            if self.target == "lab-ssh":
                self._hypervisor = LabHypervisor(self.topology)
            else:
                from drctl.production.proxmox import ProxmoxHypervisor

                self._hypervisor = ProxmoxHypervisor.from_inventory(self.inventory.path)
        return self._hypervisor

    def address(self, site: str) -> str:
        if self.target == "lab-ssh":
            return str(self.topology.site(site).lab_address)
        return self.inventory.host_for(site).address

    def contacted(self) -> list[str]:
        return self.ssh.take_contacts()

    def remote(self, site: str) -> str | None:
        hosts = self.inventory.at(site)
        return hosts[0].url if hosts else None

    # -- power and network --------------------------------------------------------------------
    def power_off(self, site: str) -> None:
        self.topology.site(site)
        self.hypervisor.power_off(site)

    def power_on(self, site: str) -> None:
        """Power on, then wait until every host of the site answers over SSH and its services
        have started: "running" to a hypervisor is not "serving" yet."""
        self.hypervisor.power_on(site)
        deadline = time.monotonic() + BOOT_TIMEOUT
        for host in self.inventory.at(site):
            while not self.ssh.reachable(host):
                if time.monotonic() > deadline:
                    raise EstateError(f"{host.url}: no answer {BOOT_TIMEOUT:g} s after power on")
                time.sleep(0.2)
            left = max(1, int(deadline - time.monotonic()))
            self.ssh.check(host, MANAGERS[host.service_manager].wait_started(host, left), left + 5)

    def partition(self, site: str) -> None:
        self.topology.site(site)
        self.network.partition(site)

    def heal(self, site: str) -> None:
        self.network.heal(site)

    def is_fenced(self, site: str) -> bool:
        # the hypervisor's word, never "SSH does not answer": unreachable is not fenced
        return self.hypervisor.is_powered_off(site) or site in self.network.partitioned()

    def add_latency(self, site: str, ms: float) -> None:
        self._lab_only("WAN latency").add_latency(site, ms)

    def remove_latency(self, site: str) -> None:
        self._lab_only("WAN latency").remove_latency(site)

    def latency(self, site: str) -> float | None:
        return self._lab_only("WAN latency").latency(site) if self.target == "lab-ssh" else None

    def _lab_only(self, what: str) -> Estate:
        hypervisor = self.hypervisor
        if not isinstance(hypervisor, LabHypervisor):
            raise NotImplementedError(f"{what} cannot be injected in production")
        return hypervisor.lab

    # -- services and commands, over SSH ------------------------------------------------------
    def kill_service(self, site: str, service: str) -> None:
        host = self.inventory.host_for(site, service)
        self.ssh.check(host, MANAGERS[host.service_manager].kill(host, service), timeout=30)

    def start_service(self, site: str, service: str) -> None:
        if self.hypervisor.is_powered_off(site):
            raise EstateError(f"site {site} is powered off")
        host = self.inventory.host_for(site, service)
        self.ssh.check(host, MANAGERS[host.service_manager].start(host, service), timeout=60)

    def stop_service(self, site: str, service: str) -> None:
        if self.hypervisor.is_powered_off(site):
            raise EstateError(f"site {site} is powered off")
        host = self.inventory.host_for(site, service)
        self.ssh.check(host, MANAGERS[host.service_manager].stop(host, service), timeout=120)

    def restore_script(self, site: str) -> str:
        if self.target == "lab-ssh":
            return self._lab_only("the lab's layout").restore_script(site)
        return super().restore_script(site)

    def is_service_down(self, site: str, service: str) -> bool:
        if self.hypervisor.is_powered_off(site):
            return True  # no host to ask, and nothing runs on it
        host = self.inventory.host_for(site, service)
        out = self.ssh.check(host, MANAGERS[host.service_manager].is_down(host, service), 30)
        return out.strip() == "down"

    def run_command(self, site: str, command: str, timeout: float = 60) -> str:
        """A shell command on the site's host (in the lab, inside the site's cgroup: the SSH
        session is a child of the site's sshd, so its traffic is the site's)."""
        host = self.inventory.host_for(site)
        result = self.ssh.run(host, command, timeout)
        if not result.ok:
            raise EstateError(
                f"command at {site} ({host.url}) failed: {(result.stderr or result.stdout)[-300:]}"
            )
        return result.stdout

    # -- health, verification, secrets --------------------------------------------------------
    def health(self) -> list[ServiceHealth]:
        from drctl.lab import health
        from drctl.production.checks import host_endpoints

        if self.target == "lab-ssh":
            lab = self._lab_only("lab health")
            return lab.health()
        eps = [
            ep
            for per_host in host_endpoints(self.inventory, self.topology).values()
            for ep in per_host
            if ep.service != "etcd-peer"
        ]
        return [health.check(ep) for ep in eps]

    def verify(self, skip_fenced: bool = True) -> list[HostCheck]:
        from drctl.production.checks import verify

        fenced = {s.name for s in self.topology.sites if skip_fenced and self.is_fenced(s.name)}
        return verify(self.inventory, self.topology, skip_sites=fenced)

    def secret(self, name: str) -> str:
        if self.target != "lab-ssh":
            return super().secret(name)
        from drctl.lab.paths import LabPaths

        path = LabPaths.default().secrets
        values = json.loads(path.read_text())
        if name not in values:
            raise EstateError(f"no secret {name!r} in {path}")
        return str(values[name])

    def ssh_latency(self) -> dict[str, float]:
        """Per-command latency over the open connections so far (seconds)."""
        lat = sorted(self.ssh.latencies)
        if not lat:
            return {}
        return {
            "commands": len(lat),
            "median": lat[len(lat) // 2],
            "max": lat[-1],
        }
