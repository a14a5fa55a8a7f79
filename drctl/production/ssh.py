"""Service and command steps on an estate's hosts over SSH, through pyinfra's Python API.

One pyinfra `State` holds a connection per host, opened on first use and kept open across
calls (a drill's step costs one command, not one handshake). A host that was powered off comes
back with a new connection: a command that finds its connection dead reconnects once.

The service manager differs by estate (the inventory's `drctl_service_manager`): the lab's sites
run supervisord with a cgroup per service, production hosts systemd units `drctl-<service>`.
"""

from __future__ import annotations

import shlex
import threading
import time
from dataclasses import dataclass
from typing import Any

from drctl.errors import EstateError
from drctl.production.hosts import SshHost, SshInventory

CONNECT_TIMEOUT = 5


@dataclass(frozen=True)
class Result:
    host: str
    ok: bool
    stdout: str
    stderr: str
    seconds: float


class SshSession:
    """Commands on the inventory's hosts, over connections kept open."""

    def __init__(self, inventory: SshInventory, connect_timeout: int = CONNECT_TIMEOUT) -> None:
        from pyinfra.api.config import Config
        from pyinfra.api.inventory import Inventory
        from pyinfra.api.state import State

        self.inventory = inventory
        names = [(h.name, _connector_data(h)) for h in inventory.hosts]
        self._pyinfra = Inventory((names, {}))  # type: ignore[no-untyped-call]
        config = Config(CONNECT_TIMEOUT=connect_timeout)  # type: ignore[no-untyped-call]
        self._state = State(self._pyinfra, config)
        self._locks = {h.name: threading.Lock() for h in inventory.hosts}
        self.latencies: list[float] = []  # seconds per command on an open connection
        # the hosts each thread reached, for the journal: a drill runs steps in parallel threads
        self._contacts = threading.local()

    def run(self, host: SshHost, command: str, timeout: float = 60) -> Result:
        """Run a shell command on `host`; never raises for a non-zero exit (see `check`)."""
        self._contacted(host)
        # The remote `timeout`: pyinfra's own relies on gevent, which drctl does not patch in.
        wrapped = f"timeout -s KILL {max(1, int(timeout))} sh -c {shlex.quote(command)}"
        with self._locks[host.name]:
            target = self._pyinfra.get_host(host.name)
            for attempt in (1, 2):
                self._connect(target, host)
                start = time.monotonic()
                try:
                    ok, out = target.run_shell_command(wrapped, _sudo=host.become)
                except Exception as exc:  # paramiko's SSHException, OSError, EOFError
                    if attempt == 2 or not _connection_lost(exc):
                        raise EstateError(f"{host.url}: {type(exc).__name__}: {exc}") from exc
                    _close(target)  # powered off and on since: a new connection
                    continue
                seconds = time.monotonic() - start
                self.latencies.append(seconds)
                return Result(host.name, ok, out.stdout, out.stderr, seconds)
        raise AssertionError("unreachable")

    def check(self, host: SshHost, command: str, timeout: float = 60) -> str:
        """Run a command that must succeed; its output."""
        result = self.run(host, command, timeout)
        if not result.ok:
            detail = (result.stderr or result.stdout).strip()[-300:]
            raise EstateError(f"{host.url}: `{command}` failed: {detail}")
        return result.stdout

    def reachable(self, host: SshHost) -> bool:
        """A fresh connection succeeds (after a power on: the host has booted)."""
        self._contacted(host)
        with self._locks[host.name]:
            target = self._pyinfra.get_host(host.name)
            _close(target)
            try:
                self._connect(target, host)
            except EstateError:
                return False
            return True

    def take_contacts(self) -> list[str]:
        """The hosts (ssh:// URLs) this thread reached since it last asked, in order."""
        urls: list[str] = getattr(self._contacts, "urls", [])
        self._contacts.urls = []
        return list(dict.fromkeys(urls))

    def _contacted(self, host: SshHost) -> None:
        if not hasattr(self._contacts, "urls"):
            self._contacts.urls = []
        self._contacts.urls.append(host.url)

    def close(self) -> None:
        for host in self._pyinfra:
            _close(host)

    def _connect(self, target: Any, host: SshHost) -> None:
        if target.connected:
            return
        from pyinfra.api.exceptions import ConnectError

        try:
            target.connect(show_errors=False, raise_exceptions=True)
        except ConnectError as exc:
            raise EstateError(f"{host.url}: cannot connect: {exc}") from None


def _close(target: Any) -> None:
    client = getattr(target.connector, "client", None)
    if client is not None:
        client.close()
    target.connected = False


def _connector_data(host: SshHost) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ssh_hostname": host.ssh_address,
        "ssh_port": host.port,
        "ssh_user": host.user,
        # a host key not in drctl's known_hosts is refused, never accepted silently
        "ssh_strict_host_key_checking": "yes",
        "ssh_connect_retries": 0,
    }
    if host.key_file is not None:
        data.update(ssh_key=str(host.key_file), ssh_allow_agent=False, ssh_look_for_keys=False)
    if host.known_hosts is not None:
        data["ssh_known_hosts_file"] = str(host.known_hosts)
    return data


def _connection_lost(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(
        word in text
        for word in ("not active", "eof", "closed", "reset", "broken pipe", "session not")
    )


class ServiceManager:
    """Shell commands that kill, start and inspect one service on a host."""

    def kill(self, host: SshHost, service: str) -> str:
        raise NotImplementedError

    def start(self, host: SshHost, service: str) -> str:
        raise NotImplementedError

    def stop(self, host: SshHost, service: str) -> str:
        """A clean stop (SIGTERM and wait): Patroni shuts its PostgreSQL down first."""
        raise NotImplementedError

    def is_down(self, host: SshHost, service: str) -> str:
        """Prints `down` or `up`."""
        raise NotImplementedError

    def wait_started(self, host: SshHost, seconds: int) -> str:
        """Exits 0 once every service of the host has started (after a power on)."""
        raise NotImplementedError


class Supervisor(ServiceManager):
    """The lab's sites: one supervisord per site, every service in its own cgroup."""

    def _cgroup(self, host: SshHost, service: str) -> str:
        return shlex.quote(f"{host.cgroup_root}/{host.site}/{service}")

    def _procs(self, cg: str) -> str:
        return f"find {cg} -name cgroup.procs -exec cat {{}} + 2>/dev/null"

    def kill(self, host: SshHost, service: str) -> str:
        cg = self._cgroup(host, service)
        return (
            f"[ -d {cg} ] || {{ echo 'no service {service} at {host.site}' >&2; exit 3; }}; "
            f"echo 1 > {cg}/cgroup.kill; i=0; "
            f'while [ -n "$({self._procs(cg)})" ]; do '
            "i=$((i+1)); [ $i -lt 500 ] || { echo 'processes survive' >&2; exit 4; }; "
            "sleep 0.02; done"
        )

    def start(self, host: SshHost, service: str) -> str:
        conf = shlex.quote(f"{host.lab_root}/{host.site}/supervisord.conf")
        return (
            f"out=$(supervisorctl -c {conf} start {shlex.quote(service)}); rc=$?; "
            'echo "$out"; case "$out" in *"already started"*) exit 0;; esac; exit $rc'
        )

    def stop(self, host: SshHost, service: str) -> str:
        conf = shlex.quote(f"{host.lab_root}/{host.site}/supervisord.conf")
        return f"supervisorctl -c {conf} stop {shlex.quote(service)} >/dev/null"

    def is_down(self, host: SshHost, service: str) -> str:
        cg = self._cgroup(host, service)
        return f'if [ -n "$({self._procs(cg)})" ]; then echo up; else echo down; fi'

    def wait_started(self, host: SshHost, seconds: int) -> str:
        # every program RUNNING: status exits non-zero for stopped ones, and prints the rest
        ctl = f"supervisorctl -c {shlex.quote(f'{host.lab_root}/{host.site}/supervisord.conf')}"
        return (
            f"i=0; until out=$({ctl} status) && ! echo \"$out\" | grep -qE 'STARTING|BACKOFF'; "
            f'do i=$((i+1)); [ $i -lt {seconds * 2} ] || {{ echo "$out"; exit 1; }}; '
            "sleep 0.5; done"
        )


class Systemd(ServiceManager):
    """Production hosts: roles/service's units, `drctl-<service>.service`."""

    def _unit(self, service: str) -> str:
        return shlex.quote(f"drctl-{service}.service")

    def kill(self, host: SshHost, service: str) -> str:
        return f"systemctl kill -s KILL {self._unit(service)}"

    def start(self, host: SshHost, service: str) -> str:
        return f"systemctl start {self._unit(service)}"

    def stop(self, host: SshHost, service: str) -> str:
        return f"systemctl stop {self._unit(service)}"

    def is_down(self, host: SshHost, service: str) -> str:
        unit = self._unit(service)
        return f"if systemctl is-active --quiet {unit}; then echo up; else echo down; fi"

    def wait_started(self, host: SshHost, seconds: int) -> str:
        return (
            f"timeout {seconds} systemctl is-system-running --wait >/dev/null; "
            "failed=$(systemctl list-units 'drctl-*' --state=failed --no-legend); "
            '[ -z "$failed" ] || { echo "$failed"; exit 1; }'
        )


MANAGERS: dict[str, ServiceManager] = {"supervisor": Supervisor(), "systemd": Systemd()}
