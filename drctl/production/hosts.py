"""The hosts an SSH-reachable estate is made of, read from an Ansible inventory (hosts.yml).

The same file Ansible deploys with is what drctl connects with: `inventories/lab-ssh/` (written
at `lab up`) or `inventories/production/` (from the Pulumi stack). Each host is validated
before anything connects; a problem names the file, line and field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from drctl.errors import ConfigError, Problem
from drctl.yamlfile import Located, load_yaml, parse_model

HOSTS_FILE = "hosts.yml"
ServiceManager = Literal["supervisor", "systemd"]


class _Group(BaseModel):
    model_config = ConfigDict(extra="ignore")
    hosts: dict[str, None] = {}


class _All(BaseModel):
    model_config = ConfigDict(extra="ignore")
    vars: dict[str, Any] = {}
    hosts: dict[str, dict[str, Any] | None] = Field(min_length=1)
    children: dict[str, _Group | None] = {}


class _InventoryFile(BaseModel):
    model_config = ConfigDict(extra="ignore")
    all: _All


class _HostVars(BaseModel):
    """What drctl reads of a host's variables (all.vars overridden by the host's own)."""

    model_config = ConfigDict(extra="ignore")
    ansible_host: str = Field(min_length=1)
    ansible_port: int = Field(default=22, gt=0, lt=65536)
    ansible_user: str = Field(default="root", min_length=1)
    ansible_become: bool = False
    ansible_ssh_private_key_file: Path | None = None
    drctl_ssh_known_hosts: Path | None = None
    drctl_site: str = Field(min_length=1)
    drctl_address: str | None = None
    drctl_service_manager: ServiceManager
    drctl_data_root: str = "/var/lib/drctl"
    # the lab only: where its sites' supervisors and cgroups are
    drctl_lab_root: str | None = None
    drctl_cgroup_root: str | None = None
    drctl_lab_skipped_tags: list[str] = []
    # certificates to check for expiry (`drctl verify`); the lab has none
    drctl_certificates: list[str] = []


@dataclass(frozen=True)
class SshHost:
    name: str
    site: str
    address: str  # what its services bind (drctl_address), often the SSH address too
    ssh_address: str
    port: int
    user: str
    become: bool
    key_file: Path | None
    known_hosts: Path | None
    service_manager: ServiceManager
    data_root: str
    groups: frozenset[str]
    lab_root: str | None = None
    cgroup_root: str | None = None
    skipped_tags: tuple[str, ...] = ()
    certificates: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        """How the journal shows where a step ran, e.g. ssh://root@127.10.1.1."""
        port = f":{self.port}" if self.port != 22 else ""
        return f"ssh://{self.user}@{self.ssh_address}{port}"


@dataclass(frozen=True)
class SshInventory:
    path: Path
    hosts: tuple[SshHost, ...]

    def at(self, site: str) -> list[SshHost]:
        return [h for h in self.hosts if h.site == site]

    def host_for(self, site: str, service: str | None = None) -> SshHost:
        """The host of `site` running `service` (its group), or the site's first host."""
        hosts = self.at(site)
        if not hosts:
            raise ConfigError.single(self.path, "all.hosts", f"no host at site {site!r}")
        if service is not None:
            groups = service_groups(service)
            for host in hosts:
                if not groups or groups & host.groups:
                    return host
            raise ConfigError.single(
                self.path,
                "all.children",
                f"no host at {site} is in group {' or '.join(sorted(groups))} ({service})",
            )
        return hosts[0]


def service_groups(service: str) -> frozenset[str]:
    """The inventory groups whose hosts run a service (a supervisor program or systemd unit
    name); empty for services every host runs (node exporter, sshd)."""
    if service.endswith("-db"):
        return frozenset({"patroni"})
    if service.endswith("-app"):
        return frozenset({service.removesuffix("-app")})
    groups = {
        "etcd": {"etcd"},
        "haproxy": {"haproxy", "front_door"},  # a site's router, or the front door
        "hub-cache": {"hub_cache"},
        "prometheus": {"prometheus"},
        "drctl-exporter": {"drctl_exporter"},
    }
    return frozenset(groups.get(service, ()))


def inventory_file(path: Path) -> Path:
    """`inventories/lab-ssh` or `inventories/lab-ssh/hosts.yml`."""
    return path / HOSTS_FILE if path.is_dir() else path


def load_inventory(path: Path) -> SshInventory:
    source = inventory_file(path)
    doc = load_yaml(source)
    raw = parse_model(doc, _InventoryFile).all
    groups: dict[str, set[str]] = {}
    problems: list[Problem] = []
    for group, members in raw.children.items():
        for member in members.hosts if members else {}:
            if member not in raw.hosts:
                loc = ("all", "children", group, "hosts", member)
                problems.append(doc.problem(loc, f"unknown host {member!r} (not in all.hosts)"))
            groups.setdefault(member, set()).add(group)
    hosts = []
    for name, own in raw.hosts.items():
        own = own or {}
        try:
            v = _HostVars.model_validate({**raw.vars, **own})
        except ValidationError as exc:
            problems += _host_problems(doc, name, own, exc)
            continue
        hosts.append(
            SshHost(
                name=name,
                site=v.drctl_site,
                address=v.drctl_address or v.ansible_host,
                ssh_address=v.ansible_host,
                port=v.ansible_port,
                user=v.ansible_user,
                become=v.ansible_become and v.ansible_user != "root",
                key_file=v.ansible_ssh_private_key_file,
                known_hosts=v.drctl_ssh_known_hosts,
                service_manager=v.drctl_service_manager,
                data_root=_data_root(v),
                groups=frozenset(groups.get(name, ())),
                lab_root=v.drctl_lab_root,
                cgroup_root=v.drctl_cgroup_root,
                skipped_tags=tuple(v.drctl_lab_skipped_tags),
                certificates=tuple(v.drctl_certificates),
            )
        )
    for host in hosts:
        if host.service_manager == "supervisor" and not (host.lab_root and host.cgroup_root):
            problems.append(
                doc.problem(
                    ("all", "hosts", host.name, "drctl_lab_root"),
                    "a supervisor (lab) host needs drctl_lab_root, drctl_cgroup_root",
                )
            )
    if problems:
        raise ConfigError(problems)
    return SshInventory(source, tuple(hosts))


def _data_root(v: _HostVars) -> str:
    # the lab inventory's shared value is a template: "{{ drctl_lab_root }}/{{ drctl_site }}"
    if "{{" in v.drctl_data_root and v.drctl_lab_root:
        return f"{v.drctl_lab_root}/{v.drctl_site}"
    return v.drctl_data_root


def _host_problems(
    doc: Located, name: str, own: dict[str, Any], exc: ValidationError
) -> list[Problem]:
    problems = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        at_host = field in own or err["type"] == "missing"
        base = ("all", "hosts", name) if at_host else ("all", "vars")
        message = err["msg"] if err["type"] != "missing" else "required (for every host)"
        problems.append(doc.problem((*base, field), message))
    return problems
