"""Verification on the hosts themselves, with pytest-testinfra's Python API over SSH.

`drctl verify --inventory PATH` runs these, and so does a drill's verification phase on an SSH
target. Per host: the services it should run listen on their ports, each Patroni member says
its role and state, the data directory's disk has room, and key material has safe modes: the
sshd host key and authorized_keys (the lab has no TLS certificates; hosts listing
`drctl_certificates` get those checked for expiry too). Across hosts: each cluster has exactly
one primary among the members reached.

Host keys are checked against the inventory's known_hosts: testinfra's paramiko backend would
accept an unknown key with a warning, so drctl gives it a strict client.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Address
from typing import Any

from drctl.estate.base import HostCheck
from drctl.lab.health import TAGGED_SERVICES
from drctl.production.hosts import SshHost, SshInventory, service_groups
from drctl.topology.endpoints import Endpoint, endpoints
from drctl.topology.model import Topology

DISK_MAX_PERCENT = 90
CERT_MIN_DAYS = 30
SSH_TIMEOUT = 5
PRIMARY_ROLES = ("primary", "master")


def endpoint_groups(service: str) -> frozenset[str]:
    """The inventory groups of the hosts serving a topology endpoint (etcd-peer,
    ecm-db-patroni, haproxy-ecm-db, front-door-ecm, ...); empty: every host."""
    if service.startswith("front-door-"):
        return frozenset({"front_door"})
    if service.startswith("haproxy-"):
        return frozenset({"haproxy"})
    if service.endswith("-patroni"):
        return frozenset({"patroni"})
    if service == "etcd-peer":
        return frozenset({"etcd"})
    return service_groups(service)


def host_endpoints(inventory: SshInventory, topo: Topology) -> dict[str, list[Endpoint]]:
    """Each host's endpoints, at the host's own address: what must listen there."""
    out: dict[str, list[Endpoint]] = {h.name: [] for h in inventory.hosts}
    for ep in endpoints(topo):
        groups = endpoint_groups(ep.service)
        for host in inventory.at(ep.site):
            if groups and not groups & host.groups:
                continue
            skipped = [TAGGED_SERVICES[t] for t in host.skipped_tags if t in TAGGED_SERVICES]
            if any(f(ep.service) for f in skipped):
                continue
            out[host.name].append(
                Endpoint(ep.site, ep.service, IPv4Address(host.address), ep.port, ep.loc)
            )
            break
    return out


@functools.cache
def _strict_backend() -> type[Any]:
    import paramiko
    from testinfra.backend.paramiko import ParamikoBackend

    class StrictParamikoBackend(ParamikoBackend):  # type: ignore[misc]
        """testinfra's paramiko backend with the host key checked against known_hosts."""

        def __init__(self, host: SshHost, timeout: int = SSH_TIMEOUT) -> None:
            super().__init__(
                f"{host.user}@{host.ssh_address}:{host.port}",
                ssh_identity_file=str(host.key_file) if host.key_file else None,
                timeout=timeout,
                sudo=host.become,
            )
            self.known_hosts = host.known_hosts

        @functools.cached_property
        def client(self) -> paramiko.SSHClient:
            client = paramiko.SSHClient()
            if self.known_hosts is not None:
                client.load_host_keys(str(self.known_hosts))
            else:
                client.load_system_host_keys()
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
            client.connect(
                self.host.name,
                port=int(self.host.port or 22),
                username=self.host.user,
                key_filename=self.ssh_identity_file,
                timeout=self.timeout,
                allow_agent=self.ssh_identity_file is None,
                look_for_keys=self.ssh_identity_file is None,
            )
            return client

    return StrictParamikoBackend


def testinfra_host(host: SshHost) -> Any:
    """A testinfra Host for an inventory host (one SSH connection, reused by every check)."""
    from testinfra.host import Host

    backend = _strict_backend()(host)
    t = Host(backend)
    backend.set_host(t)
    return t


def check_host(host: SshHost, eps: list[Endpoint], topo: Topology) -> list[HostCheck]:
    def result(check: str, passed: bool, detail: str) -> HostCheck:
        return HostCheck(host.name, host.site, check, passed, detail)

    t = testinfra_host(host)
    try:
        listening = set(t.socket.get_listening_sockets())
    except Exception as exc:  # cannot connect, refused key, no `ss`: one failure says it
        return [result("ssh", False, f"{host.url}: {type(exc).__name__}: {exc}")]
    out = [result("ssh", True, host.url)]
    for ep in eps:
        ok = f"tcp://{ep.address}:{ep.port}" in listening
        detail = ep.hostport if ok else f"nothing on {ep.hostport}"
        out.append(result(f"listening {ep.service}", ok, detail))
    out += _patroni(t, host, topo)
    out.append(_disk(t, host, result))
    out += _key_material(t, host, result)
    with contextlib.suppress(Exception):
        t.backend.client.close()
    return out


def _patroni(t: Any, host: SshHost, topo: Topology) -> list[HostCheck]:
    if "patroni" not in host.groups:
        return []
    out = []
    for system in topo.systems:
        if host.site not in system.placement:
            continue
        db = system.database
        # GET /patroni is open by design (HAProxy's checks, monitoring); only changes need auth
        url = f"http://{host.address}:{db.patroni_port}/patroni"
        cmd = t.run("curl -fsS --max-time 2 %s", url)
        name = f"patroni {db.cluster}"
        try:
            info = json.loads(cmd.stdout) if cmd.rc == 0 else {}
        except ValueError:
            info = {}
        if not info:
            detail = (cmd.stderr or cmd.stdout).strip()[:80] or f"curl exited {cmd.rc}"
            out.append(HostCheck(host.name, host.site, name, False, detail))
            continue
        role, state = str(info.get("role", "?")), str(info.get("state", "?"))
        passed = state in ("running", "streaming")
        out.append(HostCheck(host.name, host.site, name, passed, f"{role} {state}"))
    return out


def _disk(t: Any, host: SshHost, result: Any) -> HostCheck:
    cmd = t.run("df -P %s", host.data_root)
    lines = cmd.stdout.strip().splitlines()
    if cmd.rc != 0 or len(lines) < 2:
        return result("disk", False, f"{host.data_root}: {cmd.stderr.strip()[:80]}")  # type: ignore[no-any-return]
    used = int(lines[-1].split()[4].rstrip("%"))
    detail = f"{host.data_root} {used}% used (limit {DISK_MAX_PERCENT}%)"
    return result("disk", used < DISK_MAX_PERCENT, detail)  # type: ignore[no-any-return]


def _key_material(t: Any, host: SshHost, result: Any) -> list[HostCheck]:
    """The sshd host key readable by root only; authorized_keys not writable by others;
    certificates (if the host lists any) valid for CERT_MIN_DAYS more days."""
    if host.service_manager == "supervisor":  # the lab's sshd keeps its keys in the site dir
        host_key, authorized = (
            f"{host.data_root}/sshd/ssh_host_ed25519_key",
            (f"{host.data_root}/sshd/authorized_keys"),
        )
    else:
        host_key, authorized = "/etc/ssh/ssh_host_ed25519_key", None
    out = []
    f = t.file(host_key)
    ok = f.exists and f.user == "root" and f.mode & 0o077 == 0
    detail = f"{host_key} {oct(f.mode) if f.exists else 'missing'}"
    out.append(result("ssh host key", ok, detail))
    if authorized is not None:
        f = t.file(authorized)
        ok = f.exists and f.user == "root" and f.mode & 0o022 == 0
        detail = f"{authorized} {oct(f.mode) if f.exists else 'missing'}"
        out.append(result("authorized_keys", ok, detail))
    for cert in host.certificates:
        cmd = t.run("openssl x509 -checkend %s -noout -in %s", CERT_MIN_DAYS * 86400, cert)
        detail = f"{cert}: valid {CERT_MIN_DAYS}+ days" if cmd.rc == 0 else f"{cert}: expires"
        out.append(result(f"certificate {cert}", cmd.rc == 0, detail))
    return out


def one_primary(checks: Iterable[HostCheck]) -> list[HostCheck]:
    """Across the members reached: each cluster has exactly one primary."""
    primaries: dict[str, list[str]] = {}
    for c in checks:
        if c.check.startswith("patroni ") and c.passed:
            cluster = c.check.removeprefix("patroni ")
            primaries.setdefault(cluster, [])
            if c.detail.split()[0] in PRIMARY_ROLES:
                primaries[cluster].append(c.site)
    return [
        HostCheck(
            "(estate)",
            "",
            f"one primary {cluster}",
            len(sites) == 1,
            f"primary at {', '.join(sites) or 'no member'}",
        )
        for cluster, sites in primaries.items()
    ]


def verify(
    inventory: SshInventory,
    topo: Topology,
    skip_sites: Collection[str] = (),
    workers: int = 4,
) -> list[HostCheck]:
    """Every host's checks (hosts at `skip_sites` left out), in inventory order."""
    eps = host_endpoints(inventory, topo)
    hosts = [h for h in inventory.hosts if h.site not in skip_sites]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        per_host = list(pool.map(lambda h: check_host(h, eps[h.name], topo), hosts))
    checks = [c for host_checks in per_host for c in host_checks]
    return checks + one_primary(checks)
