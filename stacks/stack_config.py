"""The stack's configuration, typed and checked against the topology before anything is declared.

`pulumi config` holds what differs between stacks (Proxmox endpoints and nodes per site, the VM
template, sizes, AWS regions, names); `inventories/topology.yaml` holds the estate itself. Every
problem is reported at once as a `ConfigError`, each naming the stack file and the config key,
so `pulumi up` stops before a single resource is declared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from drctl.errors import ConfigError, Problem
from drctl.topology import DEFAULT_PATH, SiteRole, Topology, load_topology

NAMESPACE = "drctl"
STACKS_DIR = Path(__file__).resolve().parent
# The keys read from `pulumi config` (namespace drctl); objects are stored as YAML maps.
STRING_KEYS = ("topology", "sshUser", "sshPublicKey")
OBJECT_KEYS = ("proxmox", "sites", "sizes", "backup", "frontDoor")
SECRET_KEYS = ("proxmoxApiTokens",)  # read as secrets by __main__, never validated in plain text
PLACEHOLDER = "REPLACE-ME"


class VmKind(StrEnum):
    """The kinds of VM a site can have. The order fixes each kind's address and VM id offset,
    so adding a kind later never renumbers an existing VM."""

    ETCD = "etcd"  # etcd member (DCS quorum)
    DB = "db"  # the site's PostgreSQL members, one per cluster placed here (Patroni)
    APP = "app"  # the applications and the site's HAProxy database router they connect through
    MONITOR = "monitor"  # Prometheus and the drctl exporter
    CACHE = "cache"  # a regional hub's document cache

    @property
    def offset(self) -> int:
        return list(VmKind).index(self)


# (minimum, maximum) per size field: outside these a VM is a typo, not a choice.
SIZE_LIMITS: dict[str, tuple[int, int]] = {
    "cores": (1, 64),
    "memory_mb": (1024, 524_288),
    "disk_gb": (10, 8_192),
}
DEFAULT_SIZES: dict[VmKind, dict[str, int]] = {
    VmKind.ETCD: {"cores": 2, "memory_mb": 4096, "disk_gb": 32},
    VmKind.DB: {"cores": 8, "memory_mb": 32768, "disk_gb": 500},
    VmKind.APP: {"cores": 4, "memory_mb": 8192, "disk_gb": 64},
    VmKind.MONITOR: {"cores": 2, "memory_mb": 8192, "disk_gb": 200},
    VmKind.CACHE: {"cores": 2, "memory_mb": 4096, "disk_gb": 200},
}
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
SSH_KEY = re.compile(r"^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( \S+)?$")


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class Size(Model):
    cores: int
    memory_mb: int
    disk_gb: int


class ProxmoxSettings(Model):
    template_vm_id: int = Field(ge=100, le=999_999_999, description="cloud-init ready template")
    template_node: str | None = None  # the node holding the template, when not the VM's own
    datastore: str = "local-lvm"  # VM disks and cloud-init drives
    snippets_datastore: str = "local"  # must allow the "snippets" content type
    bridge: str = "vmbr0"
    insecure: bool = False  # skip TLS verification of the API (self-signed certificates)
    ssh_username: str = "root"  # the provider uploads cloud-init snippets over SSH
    protect_databases: bool = True  # Proxmox refuses to delete protected VMs


class SiteSettings(Model):
    endpoint: str | None = None  # checked below, so its absence gets its own message
    nodes: list[str] = Field(min_length=1)
    network: IPv4Network
    gateway: IPv4Address
    first_host: int = Field(default=10, ge=1)
    dns: list[IPv4Address] = []
    vlan: int | None = Field(default=None, ge=1, le=4094)
    vm_id_base: int | None = Field(default=None, ge=100, le=999_999_000)
    public_address: IPv4Address | None = None  # where the front door sends users of this site


class BackupSettings(Model):
    primary_region: str
    replica_region: str
    bucket: str
    replica_bucket: str | None = None  # default: "<bucket>-replica"
    lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "COMPLIANCE"
    lock_days: int = Field(default=14, ge=1, le=3650)
    infrequent_after_days: int = Field(default=30, ge=30)
    cold_after_days: int = 90
    cold_storage_class: Literal["GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"] = "GLACIER_IR"
    noncurrent_expire_days: int = 400

    @property
    def replica_bucket_name(self) -> str:
        return self.replica_bucket or f"{self.bucket}-replica"


class FrontDoorSettings(Model):
    zone_id: str = Field(min_length=1)
    domain: str
    ttl: int = Field(default=60, ge=10, le=300)
    health_check_path: str = "/readyz"
    failure_threshold: int = Field(default=3, ge=1, le=10)
    request_interval: Literal[10, 30] = 10


class StackSettings(Model):
    topology: str | None = None
    ssh_user: str = "drctl"
    ssh_public_key: str
    proxmox: ProxmoxSettings
    sites: dict[str, SiteSettings]
    sizes: dict[VmKind, Size]
    backup: BackupSettings
    front_door: FrontDoorSettings

    def topology_path(self) -> Path:
        if self.topology is None:
            return DEFAULT_PATH
        path = Path(self.topology)
        return path if path.is_absolute() else STACKS_DIR / path

    def size(self, kind: VmKind) -> Size:
        return self.sizes[kind]


def read_pulumi_config(
    get: Callable[[str], str | None], present: Iterable[str] = ()
) -> dict[str, Any]:
    """The raw stack config from a getter such as `pulumi.Config("drctl").get`.

    `present` lists every config key set for the stack ("ns:key"), so a misspelt drctl key is
    reported as unknown instead of silently ignored.
    """
    raw: dict[str, Any] = {}
    typos = [
        key.split(":", 1)[1]
        for key in present
        if key.startswith(f"{NAMESPACE}:")
        and key.split(":", 1)[1].split(".")[0] not in (*STRING_KEYS, *OBJECT_KEYS, *SECRET_KEYS)
    ]
    for key in (*STRING_KEYS, *typos):
        value = get(key)
        if value is not None:
            raw[key] = value
    for key in OBJECT_KEYS:
        value = get(key)
        if value is not None:
            try:
                raw[key] = json.loads(value)
            except json.JSONDecodeError:
                raw[key] = value  # not an object; validation names the key
    return raw


def parse_settings(raw: Mapping[str, Any], stack: str) -> StackSettings:
    """Validate the shape and types of the stack config (no topology needed)."""
    data = dict(raw)
    sizes = data.get("sizes", {})
    if isinstance(sizes, dict):
        data["sizes"] = _merge_sizes(sizes)
    try:
        return StackSettings.model_validate(data)
    except ValidationError as exc:
        problems: list[Problem] = []
        for err in exc.errors():
            problem = _problem(stack, _clean_loc(err["loc"]), _pydantic_message(err))
            if problem not in problems:
                problems.append(problem)
        raise ConfigError(problems) from None


def load_settings(raw: Mapping[str, Any], stack: str, topo: Topology) -> StackSettings:
    """Parse the stack config and check it against the topology; raise every problem at once."""
    settings = parse_settings(raw, stack)
    problems = check_settings(settings, topo, stack)
    if problems:
        raise ConfigError(problems)
    return settings


def load_stack(raw: Mapping[str, Any], stack: str) -> tuple[StackSettings, Topology]:
    """The stack config and the topology it names (default inventories/topology.yaml)."""
    settings = parse_settings(raw, stack)
    topo = load_topology(settings.topology_path())
    problems = check_settings(settings, topo, stack)
    if problems:
        raise ConfigError(problems)
    return settings, topo


def sites_needing_vms(topo: Topology) -> list[str]:
    """Every site but the front door, which is Route 53 in production, runs VMs."""
    return [s.name for s in topo.sites if s.role is not SiteRole.FRONT_DOOR]


def check_settings(settings: StackSettings, topo: Topology, stack: str) -> list[Problem]:
    problems: list[Problem] = []

    def add(loc: tuple[str | int, ...], message: str) -> None:
        problems.append(_problem(stack, loc, message))

    known = {s.name: s for s in topo.sites}
    for name in settings.sites:
        if name not in known:
            add(
                ("sites", name),
                f"site {name!r} is not in the topology ({settings.topology_path().name}); "
                f"known sites: {', '.join(sites_needing_vms(topo))}",
            )
        elif known[name].role is SiteRole.FRONT_DOOR:
            add(("sites", name), f"site {name!r} is the front door: Route 53 in production, no VMs")
    for name in sites_needing_vms(topo):
        site = settings.sites.get(name)
        if site is None:
            add(("sites", name), f"missing Proxmox endpoint for site {name!r} ({known[name].role})")
        else:
            _check_site(name, site, topo, add)
    for kind, size in settings.sizes.items():
        for field, (low, high) in SIZE_LIMITS.items():
            value = getattr(size, field)
            if not low <= value <= high:
                loc = ("sizes", kind.value, to_camel(field))
                add(loc, f"{value} is out of range ({low} to {high})")
    _check_backup(settings.backup, add)
    if not DOMAIN.match(settings.front_door.domain):
        add(("frontDoor", "domain"), f"{settings.front_door.domain!r} is not a DNS domain name")
    if not settings.front_door.health_check_path.startswith("/"):
        add(("frontDoor", "healthCheckPath"), "must start with /")
    key = settings.ssh_public_key.strip()
    if PLACEHOLDER in key:
        add(
            ("sshPublicKey",),
            "still the placeholder; set it with "
            'pulumi config set drctl:sshPublicKey "$(cat ~/.ssh/id_ed25519.pub)"',
        )
    elif not SSH_KEY.match(key):
        add(("sshPublicKey",), "not an OpenSSH public key (ssh-ed25519 AAAA... comment)")
    return problems


def _check_site(
    name: str,
    site: SiteSettings,
    topo: Topology,
    add: Callable[[tuple[str | int, ...], str], None],
) -> None:
    if not site.endpoint:
        add(
            ("sites", name, "endpoint"),
            "missing Proxmox endpoint (the site's Proxmox VE API, e.g. https://pve.example.org:8006/)",
        )
    elif not re.match(r"^https://[^/\s]+(:\d+)?(/.*)?$", site.endpoint):
        add(("sites", name, "endpoint"), f"{site.endpoint!r} is not an https:// URL")
    if site.gateway not in site.network:
        add(("sites", name, "gateway"), f"{site.gateway} is outside {site.network}")
    last = site.first_host + len(VmKind) - 1
    if last >= site.network.num_addresses - 1:
        add(
            ("sites", name, "firstHost"),
            f"{site.network} has no room for {len(VmKind)} addresses from host {site.first_host}",
        )
    elif site.network[site.first_host] <= site.gateway <= site.network[last]:
        add(("sites", name, "gateway"), f"{site.gateway} is inside the range given to the VMs")
    if topo.systems_at(name) and site.public_address is None:
        add(
            ("sites", name, "publicAddress"),
            "required: the front door sends users of this site's applications there",
        )


def _check_backup(
    backup: BackupSettings, add: Callable[[tuple[str | int, ...], str], None]
) -> None:
    for key, region in (
        ("primaryRegion", backup.primary_region),
        ("replicaRegion", backup.replica_region),
    ):
        if not REGION.match(region):
            add(("backup", key), f"{region!r} is not an AWS region name")
    if backup.primary_region == backup.replica_region:
        add(("backup", "replicaRegion"), "must differ from primaryRegion (an off-site copy)")
    for key, bucket in (("bucket", backup.bucket), ("replicaBucket", backup.replica_bucket_name)):
        if not BUCKET_NAME.match(bucket) or ".." in bucket:
            add(("backup", key), f"{bucket!r} is not a valid S3 bucket name")
    if backup.bucket == backup.replica_bucket_name:
        add(("backup", "replicaBucket"), "must differ from bucket")
    if backup.cold_after_days < backup.infrequent_after_days + 30:
        add(
            ("backup", "coldAfterDays"),
            f"{backup.cold_after_days} must be at least infrequentAfterDays + 30 "
            f"({backup.infrequent_after_days + 30}), as S3 requires",
        )
    if backup.noncurrent_expire_days <= backup.lock_days:
        add(
            ("backup", "noncurrentExpireDays"),
            f"{backup.noncurrent_expire_days} must exceed lockDays ({backup.lock_days})",
        )


def _merge_sizes(sizes: dict[str, Any]) -> dict[str, Any]:
    """Each kind's size is its default overlaid with what the stack sets (camelCase keys)."""
    merged: dict[str, Any] = {}
    for kind in VmKind:
        merged[kind.value] = {to_camel(k): v for k, v in DEFAULT_SIZES[kind].items()}
    for kind_name, value in sizes.items():
        if isinstance(value, dict) and kind_name in merged:
            merged[kind_name] = {**merged[kind_name], **value}
        else:
            merged[kind_name] = value  # unknown kind or not a map: validation names it
    return merged


def _problem(stack: str, loc: tuple[str | int, ...] | list[str | int], message: str) -> Problem:
    field = f"{NAMESPACE}:" + ".".join(str(part) for part in loc)
    return Problem(Path(f"Pulumi.{stack}.yaml"), None, field, message)


def _clean_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Drop pydantic's own markers ("[key]", union members) from an error location."""
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or "function-" in p)))


def _pydantic_message(err: Any) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required, not set"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "enum" and err["loc"][:1] == ("sizes",):
        return f"unknown VM kind; expected one of {', '.join(k.value for k in VmKind)}"
    return str(err["msg"])
