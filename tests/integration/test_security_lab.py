"""Security of the running lab: every service listens only on its own site's address (a site is
a cgroup with its own loopback address), and the generated secrets are readable by root only.

Read-only: it inspects sockets, /proc and file modes, and changes nothing.
"""

from __future__ import annotations

import re
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from drctl.estate.lab import LabEstate
from drctl.lab.paths import LabPaths
from drctl.topology.model import Topology

PID = re.compile(r"pid=(\d+)")


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    pids: tuple[int, ...]
    line: str


def parse_ss(output: str) -> list[Listener]:
    """`ss -Htlnp` lines: State Recv-Q Send-Q Local:Port Peer:Port [users:((...))]."""
    out = []
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        host, _, port = fields[3].rpartition(":")
        host = host.strip("[]").split("%")[0]  # [::1]:80, 127.0.0.1%lo:53
        pids = tuple(int(p) for p in PID.findall(" ".join(fields[5:])))
        out.append(Listener(host, int(port), pids, line.strip()))
    return out


def site_of(pid: int, cgroup_name: str) -> str | None:
    """The lab site whose cgroup holds this process (cgroup v2 line "0::/drctl/<site>/...")."""
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:  # exited meanwhile
        return None
    for line in text.splitlines():
        if line.startswith("0::"):
            parts = line[3:].strip("/").split("/")
            if len(parts) >= 2 and parts[0] == cgroup_name:
                return parts[1]
    return None


def misbound(listeners: list[Listener], addresses: dict[str, str], cgroup: str) -> list[str]:
    bad = []
    for sock in listeners:
        for site in sorted({s for pid in sock.pids if (s := site_of(pid, cgroup))}):
            if sock.address != addresses.get(site):
                bad.append(f"{site} (expects {addresses.get(site)}): {sock.line}")
    return bad


def test_parse_ss_reads_every_address_form() -> None:
    sample = (
        'LISTEN 0 5 127.10.2.1:8008 0.0.0.0:* users:(("patroni",pid=22997,fd=6))\n'
        'LISTEN 0 511 [::]:80 [::]:* users:(("nginx",pid=1,fd=4),("nginx",pid=2,fd=4))\n'
        "LISTEN 0 128 0.0.0.0:2024 0.0.0.0:*\n"
        'LISTEN 0 10 127.0.0.53%lo:53 0.0.0.0:* users:(("resolved",pid=3,fd=1))\n'
    )
    got = [(s.address, s.port, s.pids) for s in parse_ss(sample)]
    assert got == [
        ("127.10.2.1", 8008, (22997,)),
        ("::", 80, (1, 2)),
        ("0.0.0.0", 2024, ()),
        ("127.0.0.53", 53, (3,)),
    ]


@pytest.mark.lab
def test_services_bind_only_their_sites_address(lab: LabEstate, topology: Topology) -> None:
    ss = subprocess.run(["ss", "-Htlnp"], capture_output=True, text=True, check=True).stdout
    listeners = parse_ss(ss)
    addresses = {s.name: str(s.lab_address) for s in topology.sites}
    cgroup = lab.paths.cgroup_name
    in_lab = [s for s in listeners if any(site_of(p, cgroup) for p in s.pids)]
    assert in_lab, "no listening socket found inside the lab's cgroups"
    assert misbound(listeners, addresses, cgroup) == []


@pytest.mark.lab
def test_lab_secrets_are_readable_by_root_only(lab: LabEstate) -> None:
    secrets = lab.paths.secrets
    assert secrets.exists(), "lab up writes the secrets file"
    assert secrets == LabPaths.default().secrets
    for path in (secrets, lab.paths.lab / "secrets-vars.json"):
        if path.exists():
            st = path.stat()
            assert stat.S_IMODE(st.st_mode) == 0o600, f"{path} is {oct(st.st_mode)}"
            assert st.st_uid == 0, f"{path} belongs to uid {st.st_uid}"
