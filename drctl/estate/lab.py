"""The lab estate: sites are cgroups with their own loopback address (DESIGN §4, §9)."""

from __future__ import annotations

import json
import subprocess
import time

from drctl.errors import EstateError
from drctl.estate.base import Estate, ServiceHealth
from drctl.lab import cgroups, firewall, health, supervisor, wan
from drctl.lab.paths import LabPaths
from drctl.topology.model import Topology


class LabEstate(Estate):
    name = "lab"

    def __init__(self, topology: Topology, paths: LabPaths | None = None) -> None:
        super().__init__(topology)
        self.paths = paths or LabPaths.default()

    def address(self, site: str) -> str:
        return str(self.topology.site(site).lab_address)

    def power_off(self, site: str) -> None:
        self.topology.site(site)
        cgroups.kill(self.paths.site_cgroup(site))

    def power_on(self, site: str) -> None:
        supervisor.start(self.paths, site)

    def partition(self, site: str) -> None:
        firewall.partition(self.topology, site)

    def heal(self, site: str) -> None:
        firewall.heal(site)

    def add_latency(self, site: str, ms: float) -> None:
        """`ms` one-way delay on every TCP connection between the site and the others (a
        delaying proxy, DESIGN §9); established connections are reset so they reconnect
        through it. Idempotent; a new value replaces the old one."""
        peers = [str(s.lab_address) for s in self.topology.sites if s.name != site]
        wan.add(self.paths, site, self.address(site), peers, ms)

    def remove_latency(self, site: str) -> None:
        self.topology.site(site)
        wan.remove(self.paths, site)

    def latency(self, site: str) -> float | None:
        current = wan.active(self.paths).get(site)
        return current.ms if current else None

    def kill_service(self, site: str, service: str) -> None:
        cg = self.paths.service_cgroup(site, service)
        if not cg.is_dir():
            raise EstateError(f"no service {service!r} at {site}")
        cgroups.kill(cg)

    def start_service(self, site: str, service: str) -> None:
        if not supervisor.running(self.paths, site):
            raise EstateError(f"site {site} is powered off")
        supervisor.ctl(self.paths, site, "start", service)

    def stop_service(self, site: str, service: str) -> None:
        if not supervisor.running(self.paths, site):
            raise EstateError(f"site {site} is powered off")
        supervisor.ctl(self.paths, site, "stop", service)

    def restore_script(self, site: str) -> str:
        return str(self.paths.site_dir(site) / "pgbackrest" / "drctl-pg-restore")

    def is_fenced(self, site: str) -> bool:
        powered_off = not cgroups.pids(self.paths.site_cgroup(site))
        return powered_off or site in firewall.partitioned()

    def is_service_down(self, site: str, service: str) -> bool:
        return not cgroups.pids(self.paths.service_cgroup(site, service))

    def secret(self, name: str) -> str:
        values = json.loads(self.paths.secrets.read_text())
        if name not in values:
            raise EstateError(f"no secret {name!r} in {self.paths.secrets}")
        return str(values[name])

    def health(self) -> list[ServiceHealth]:
        return health.check_all(self.topology, health.skipped_tags(self.paths))

    def run_command(self, site: str, command: str, timeout: float = 60) -> str:
        """Run a shell command inside the site (its cgroup, so its traffic is the site's)."""
        proc = subprocess.run(
            [
                supervisor.CGEXEC,
                str(self.paths.service_cgroup(site, "commands")),
                "root",
                "sh",
                "-c",
                command,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise EstateError(f"command at {site} exited {proc.returncode}: {proc.stderr[-300:]}")
        return proc.stdout

    def wait_healthy(self, timeout: float) -> list[ServiceHealth]:
        deadline = time.monotonic() + timeout
        while True:
            checks = self.health()
            if all(c.healthy for c in checks) or time.monotonic() > deadline:
                return checks
            time.sleep(0.5)
