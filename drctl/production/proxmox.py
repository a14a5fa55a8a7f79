"""VM power and snapshots of the production estate through the Proxmox VE API (proxmoxer).

Every VM is a host of the production inventory (inventories/production/hosts.yml, generated
from the Pulumi stack) with `drctl_site` and `drctl_proxmox: {endpoint, node, vm_id}`. Each data
centre runs its own Proxmox VE cluster, so requests go to each host's own endpoint.

Actions are Proxmox tasks: the API answers with a UPID at once and the work happens after, so
every action is issued to all of a site's VMs first (a power cut is simultaneous), then every
task is awaited, with a timeout, and a failed task is reported with its VM, node and exitstatus.

Credentials: an API token from the environment only (DRCTL_PROXMOX_TOKEN_ID, e.g.
"drctl@pve!drills", and DRCTL_PROXMOX_TOKEN_SECRET); never written to disk or logged.
TLS is verified; DRCTL_PROXMOX_VERIFY_SSL=0 turns that off, a path names the CA bundle
(a Proxmox cluster's own CA is /etc/pve/pve-root-ca.pem). Plain http is accepted only for a
loopback endpoint, i.e. a test double.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import requests
from proxmoxer import ProxmoxResource, ResourceException
from proxmoxer.backends.https import Backend
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator

from drctl import REPO_ROOT
from drctl.errors import ConfigError, EstateError
from drctl.yamlfile import load_yaml, parse_model

log = logging.getLogger(__name__)

DEFAULT_INVENTORY = REPO_ROOT / "inventories" / "production" / "hosts.yml"
TOKEN_ID_ENV = "DRCTL_PROXMOX_TOKEN_ID"
TOKEN_SECRET_ENV = "DRCTL_PROXMOX_TOKEN_SECRET"
VERIFY_ENV = "DRCTL_PROXMOX_VERIFY_SSL"
DEFAULT_PORT = 8006
# PVE's format for snapshot names (pve-configid, at most 40); "current" is the live state
SNAPSHOT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{1,39}")
TOKEN_ID = re.compile(r"[^@!\s]+@[^@!\s]+![A-Za-z][A-Za-z0-9._-]*")


class _Placement(BaseModel):
    """`drctl_proxmox` of one host: ours, so unknown keys are mistakes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str
    node: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*$", max_length=63)]
    vm_id: Annotated[StrictInt, Field(ge=100, le=999_999_999)]  # PVE's VMID range

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        url = urlsplit(value)
        odd = url.username or url.query or url.fragment  # credentials belong in the environment
        if url.scheme not in ("https", "http") or not url.hostname or odd:
            raise ValueError("expected an https:// URL such as https://pve.example.org:8006/")
        if url.scheme == "http" and not _is_loopback(url.hostname):
            raise ValueError("plain http would send the API token in clear; use https://")
        try:
            url.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise ValueError("the port is not a number from 0 to 65535") from None
        return value.rstrip("/")


class _Host(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)  # the roles' variables are not ours

    drctl_site: str = Field(min_length=1)
    drctl_proxmox: _Placement


class _Hosts(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    hosts: dict[str, _Host] = Field(min_length=1)


class _InventoryFile(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    all: _Hosts


@dataclass(frozen=True)
class ProxmoxVM:
    """One VM of the estate: the inventory host, its site and where Proxmox runs it."""

    host: str
    site: str
    endpoint: str
    node: str
    vm_id: int

    def __str__(self) -> str:
        return f"{self.host} (VM {self.vm_id} on node {self.node})"


@dataclass(frozen=True)
class ApiToken:
    """A Proxmox VE API token: `user@realm!name` and its secret (never shown)."""

    user: str
    name: str
    secret: str = field(repr=False)

    @property
    def token_id(self) -> str:
        return f"{self.user}!{self.name}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiToken:
        token_id, secret = env.get(TOKEN_ID_ENV, ""), env.get(TOKEN_SECRET_ENV, "")
        if not token_id or not secret:
            missing = [
                n for n, v in ((TOKEN_ID_ENV, token_id), (TOKEN_SECRET_ENV, secret)) if not v
            ]
            raise EstateError(f"Proxmox API token: {' and '.join(missing)} not set")
        if not TOKEN_ID.fullmatch(token_id):
            raise EstateError(
                f"{TOKEN_ID_ENV}={token_id!r}: expected USER@REALM!TOKENID, e.g. drctl@pve!drills"
            )
        user, name = token_id.split("!", 1)
        return cls(user, name, secret)


def verify_from_env(env: Mapping[str, str]) -> bool | str:
    """TLS verification: on unless DRCTL_PROXMOX_VERIFY_SSL is 0/false/no; a path is a CA bundle."""
    value = env.get(VERIFY_ENV, "").strip()
    if value.lower() in ("", "1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    if not Path(value).is_file():
        raise EstateError(f"{VERIFY_ENV}={value!r}: no such CA bundle (or use 0 or 1)")
    return value


def load_vms(path: Path = DEFAULT_INVENTORY) -> list[ProxmoxVM]:
    """The VMs of an inventory's hosts; every host must say where Proxmox runs it."""
    doc = load_yaml(path)
    hosts = parse_model(doc, _InventoryFile).all.hosts
    vms: list[ProxmoxVM] = []
    seen: dict[tuple[str, str, int], str] = {}
    for name, host in hosts.items():
        p = host.drctl_proxmox
        key = (p.endpoint, p.node, p.vm_id)
        if key in seen:
            loc = ("all", "hosts", name, "drctl_proxmox", "vm_id")
            message = f"VM {p.vm_id} on node {p.node} is already host {seen[key]!r}"
            raise ConfigError([doc.problem(loc, message)])
        seen[key] = name
        vms.append(ProxmoxVM(name, host.drctl_site, p.endpoint, p.node, p.vm_id))
    return vms


class ProxmoxHypervisor:
    """Power and snapshots of whole sites, one Proxmox VE endpoint per data centre."""

    def __init__(
        self,
        vms: Iterable[ProxmoxVM],
        token: ApiToken,
        *,
        verify: bool | str = True,
        request_timeout: float = 10.0,
        wait_timeout: float = 300.0,
        poll_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.vms = list(vms)
        self._token = token
        self._verify = verify
        self.request_timeout = request_timeout
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self._clock, self._sleep = clock, sleep
        self._clients: dict[str, Any] = {}

    @classmethod
    def from_inventory(
        cls, path: Path = DEFAULT_INVENTORY, env: Mapping[str, str] = os.environ, **options: Any
    ) -> ProxmoxHypervisor:
        """Built from the production inventory, with the token and TLS setting from `env`."""
        options.setdefault("verify", verify_from_env(env))
        return cls(load_vms(path), ApiToken.from_env(env), **options)

    def site_vms(self, site: str) -> list[ProxmoxVM]:
        vms = [vm for vm in self.vms if vm.site == site]
        if not vms:
            known = ", ".join(sorted({vm.site for vm in self.vms}))
            raise EstateError(f"unknown site {site!r}: no VM of the inventory is there ({known})")
        # grouped by endpoint, so each data centre's API is asked in one run
        return sorted(vms, key=lambda vm: (vm.endpoint, vm.node, vm.vm_id))

    # --- power ---------------------------------------------------------------------------------

    def power_off(self, site: str) -> None:
        """Hard stop of every VM of the site at once, as in a power cut (no guest shutdown)."""
        running = [vm for vm in self.site_vms(site) if self._status(vm) != "stopped"]
        tasks = [(vm, self._post_task(vm, "status/stop")) for vm in running]
        log.info("%s: power off, stopping %d VMs", site, len(tasks))
        self._wait_tasks("stop", tasks)

    def power_on(self, site: str) -> None:
        """Start every stopped VM of the site; returns once Proxmox reports them all running."""
        vms = self.site_vms(site)
        stopped = [vm for vm in vms if self._status(vm) != "running"]
        tasks = [(vm, self._post_task(vm, "status/start")) for vm in stopped]
        log.info("%s: power on, starting %d VMs", site, len(tasks))
        self._wait_tasks("start", tasks)
        self._wait_until(vms, "running")

    def is_powered_off(self, site: str) -> bool:
        return all(self._status(vm) == "stopped" for vm in self.site_vms(site))

    # --- snapshots -----------------------------------------------------------------------------

    def snapshot(self, site: str, name: str, description: str = "drctl") -> None:
        """Snapshot every VM of the site (disks only: a rollback leaves the VM stopped)."""
        _check_snapshot_name(name)
        vms = self.site_vms(site)
        tasks = [
            (vm, self._post_task(vm, "snapshot", snapname=name, description=description))
            for vm in vms
        ]
        log.info("%s: snapshot %r of %d VMs", site, name, len(tasks))
        self._wait_tasks(f"snapshot {name!r}", tasks)

    def rollback(self, site: str, name: str) -> None:
        """Roll every VM of the site back to snapshot `name`; the VMs are stopped afterwards."""
        _check_snapshot_name(name)
        vms = self.site_vms(site)
        tasks = [(vm, self._post_task(vm, f"snapshot/{name}/rollback")) for vm in vms]
        log.info("%s: rollback to %r of %d VMs", site, name, len(tasks))
        self._wait_tasks(f"rollback to {name!r}", tasks)

    def snapshots(self, site: str) -> dict[str, list[str]]:
        """Each VM's snapshots by host name, oldest first (without "current", the live state)."""
        found: dict[str, list[str]] = {}
        for vm in self.site_vms(site):
            entries = self._request(vm, "GET", f"qemu/{vm.vm_id}/snapshot")
            if not isinstance(entries, list):
                raise EstateError(f"{vm}: {vm.endpoint} answered no list of snapshots")
            snaps = [e for e in entries if isinstance(e, dict) and e.get("name") != "current"]
            snaps.sort(key=lambda e: int(e.get("snaptime") or 0))
            found[vm.host] = [str(e["name"]) for e in snaps]
        return found

    # --- the API -------------------------------------------------------------------------------

    def _status(self, vm: ProxmoxVM) -> str:
        data = self._request(vm, "GET", f"qemu/{vm.vm_id}/status/current")
        status = data.get("status") if isinstance(data, dict) else None
        if not isinstance(status, str):
            raise EstateError(f"{vm}: {vm.endpoint} answered no VM status")
        return status

    def _post_task(self, vm: ProxmoxVM, action: str, **data: str) -> str:
        upid = self._request(vm, "POST", f"qemu/{vm.vm_id}/{action}", **data)
        if not isinstance(upid, str) or not upid.startswith("UPID:"):
            raise EstateError(f"{vm}: POST {action} answered no task (UPID)")
        return upid

    def _task_status(self, vm: ProxmoxVM, upid: str) -> dict[str, Any]:
        status = self._request(vm, "GET", f"tasks/{upid}/status")
        if not isinstance(status, dict) or "status" not in status:
            raise EstateError(f"{vm}: {vm.endpoint} answered no status for task {upid}")
        return status

    def _wait_tasks(self, action: str, tasks: list[tuple[ProxmoxVM, str]]) -> None:
        """Every task to its end; all failures and timeouts reported together."""
        deadline = self._clock() + self.wait_timeout
        pending, failures = list(tasks), []
        while pending:
            still = []
            for vm, upid in pending:
                status = self._task_status(vm, upid)
                if status["status"] != "stopped":
                    still.append((vm, upid))
                elif status.get("exitstatus") != "OK":
                    failures.append(
                        f"{vm}: {action} failed on node {vm.node}: "
                        f"exitstatus {status.get('exitstatus')!r} (task {upid})"
                    )
            pending = still
            if pending and self._clock() >= deadline:
                failures += [
                    f"{vm}: {action} still running after {self.wait_timeout:g} s (task {upid})"
                    for vm, upid in pending
                ]
                break
            if pending:
                self._sleep(self.poll_interval)
        if failures:
            raise EstateError("\n".join(failures))

    def _wait_until(self, vms: list[ProxmoxVM], wanted: str) -> None:
        deadline = self._clock() + self.wait_timeout
        pending = list(vms)
        while pending := [vm for vm in pending if self._status(vm) != wanted]:
            if self._clock() >= deadline:
                names = ", ".join(str(vm) for vm in pending)
                raise EstateError(f"not {wanted} after {self.wait_timeout:g} s: {names}")
            self._sleep(self.poll_interval)

    def _request(self, vm: ProxmoxVM, method: str, path: str, **data: str) -> Any:
        """GET or POST /nodes/{node}/{path} at the VM's endpoint; every failure becomes an
        EstateError naming the VM and endpoint (never the secret)."""
        what = f"{method} /nodes/{vm.node}/{path}"
        resource = self._client(vm).nodes(vm.node)(path)
        try:
            return resource.get() if method == "GET" else resource.post(**data)
        except ResourceException as exc:
            if exc.status_code == 401:
                raise EstateError(
                    f"{vm.endpoint} refused the API token {self._token.token_id} (401): "
                    f"check {TOKEN_ID_ENV} and {TOKEN_SECRET_ENV}"
                ) from None
            raise EstateError(f"{vm}: {what} at {vm.endpoint} failed: {exc}") from None
        except requests.exceptions.SSLError:
            raise EstateError(
                f"{vm}: TLS verification of {vm.endpoint} failed; set {VERIFY_ENV} to the "
                "cluster's CA bundle (its /etc/pve/pve-root-ca.pem)"
            ) from None
        except requests.RequestException as exc:
            raise EstateError(
                f"{vm}: {what}: cannot reach {vm.endpoint} ({type(exc).__name__})"
            ) from None

    def _client(self, vm: ProxmoxVM) -> Any:
        """One proxmoxer session per endpoint, made on first use."""
        if vm.endpoint not in self._clients:
            url = urlsplit(vm.endpoint)
            backend = Backend(
                host=url.hostname,
                port=url.port or DEFAULT_PORT,
                user=self._token.user,
                token_name=self._token.name,
                token_value=self._token.secret,
                verify_ssl=self._verify,
                timeout=self.request_timeout,
            )
            # proxmoxer's backend always says https://; the base URL is built here instead so a
            # loopback test double may speak plain http (the endpoint validator allows no other)
            netloc = url.netloc if url.port else f"{url.netloc}:{DEFAULT_PORT}"
            base = f"{url.scheme}://{netloc}{url.path}/api2/json"
            self._clients[vm.endpoint] = ProxmoxResource(
                base_url=base,
                session=backend.get_session(),
                serializer=backend.get_serializer(),
            )
        return self._clients[vm.endpoint]


def _check_snapshot_name(name: str) -> None:
    if not SNAPSHOT_NAME.fullmatch(name) or name == "current":
        raise EstateError(
            f"snapshot name {name!r}: a letter then letters, digits, _ or -, 2 to 40 in all"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
