"""Health of every lab service, checked concurrently over its real protocol."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor

from drctl.estate.base import ServiceHealth
from drctl.lab.paths import LabPaths
from drctl.topology.endpoints import Endpoint, endpoints
from drctl.topology.model import Topology

TIMEOUT = 1.0

# Services each skippable role group (`lab up --skip-tags`) provides.
TAGGED_SERVICES: dict[str, Callable[[str], bool]] = {
    "apps": lambda s: s.endswith("-app") or s == "hub-cache" or s.startswith("front-door-"),
    "monitoring": lambda s: s in ("prometheus", "drctl-exporter"),
    "ssh": lambda s: s == "sshd",
}
SSH_PORT = 22  # roles/sshd: the lab's stand-in for each site's hosts' own sshd


def skipped_tags(paths: LabPaths) -> set[str]:
    try:
        skipped = set(paths.skipped_tags.read_text().split())
    except FileNotFoundError:
        skipped = set()
    if paths.lab.is_dir() and not any(paths.lab.glob("*/sshd/sshd_config")):
        skipped.add("ssh")  # deployed before roles/sshd existed: the next `lab up` adds it
    return skipped


def _tcp(ep: Endpoint) -> tuple[bool, str]:
    try:
        with socket.create_connection((str(ep.address), ep.port), timeout=TIMEOUT):
            return True, "listening"
    except OSError as exc:
        return False, exc.strerror or str(exc)


def _ssh_banner(ep: Endpoint) -> tuple[bool, str]:
    with socket.create_connection((str(ep.address), ep.port), timeout=TIMEOUT) as sock:
        sock.settimeout(TIMEOUT)
        banner = sock.recv(256).decode(errors="replace").strip()
    return banner.startswith("SSH-2.0"), banner[:40] or "no banner"


def _http(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def check(ep: Endpoint) -> ServiceHealth:
    base = f"http://{ep.hostport}"
    try:
        if ep.service == "etcd":
            code, body = _http(f"{base}/health")
            ok = code == 200 and json.loads(body).get("health") == "true"
            detail = "healthy" if ok else body.decode()[:60]
        elif ep.service.endswith("-patroni"):
            code, body = _http(f"{base}/patroni")
            info = json.loads(body)
            ok = code == 200 and info.get("state") in ("running", "streaming")
            detail = f"{info.get('role', '?')} {info.get('state', '?')}"
        elif ep.service.endswith("-app") or ep.service == "hub-cache":
            code, _ = _http(f"{base}/healthz")
            ok, detail = code == 200, f"HTTP {code}"
        elif ep.service == "sshd":
            ok, detail = _ssh_banner(ep)
        elif ep.service == "prometheus":
            code, _ = _http(f"{base}/-/ready")
            ok, detail = code == 200, f"HTTP {code}"
        else:
            ok, detail = _tcp(ep)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None)
        ok, detail = False, str(reason) if reason is not None else str(exc)
    return ServiceHealth(ep.site, ep.service, ep.hostport, ok, detail)


def check_all(topo: Topology, skipped: Collection[str] = ()) -> list[ServiceHealth]:
    left_out = [TAGGED_SERVICES[t] for t in skipped if t in TAGGED_SERVICES]
    lab_only = [
        Endpoint(s.name, "sshd", s.lab_address, SSH_PORT, ("sites", i, "lab_address"))
        for i, s in enumerate(topo.sites)
    ]
    eps = [
        ep
        for ep in [*endpoints(topo), *lab_only]
        if ep.service != "etcd-peer" and not any(f(ep.service) for f in left_out)
    ]
    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(check, eps))
