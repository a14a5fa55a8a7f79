"""Which site the front door sends each system's users to, from HAProxy's stats CSV.

Backends and servers are matched to the topology by address (a server's `addr` is a site's
lab address and the system's app port), falling back to names (a backend named after the
system, a server named after the site), so the front door's configuration may name them freely.
HAProxy sends traffic to the usable non-backup servers; only when none is usable does it use
the first usable backup server (without `option allbackups`). That is what is reported.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from drctl.topology.model import Topology

USABLE = ("UP", "no check", "OPEN")


@dataclass(frozen=True)
class Server:
    backend: str
    name: str
    status: str
    backup: bool
    addr: str  # "ip:port", or "" when HAProxy does not report it


def parse_stats_csv(text: str) -> list[Server]:
    """Server rows of `show stat` / `/stats;csv` (the FRONTEND and BACKEND summaries skipped)."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        raise ValueError("not HAProxy stats CSV (no '# pxname,...' header)")
    reader = csv.DictReader(io.StringIO("\n".join([lines[0][2:], *lines[1:]])))
    out = []
    for row in reader:
        sv = row.get("svname") or ""
        if sv in ("FRONTEND", "BACKEND") or not row.get("pxname"):
            continue
        out.append(
            Server(
                backend=row["pxname"],
                name=sv,
                status=(row.get("status") or "").strip(),
                backup=(row.get("bck") or "0").strip() == "1",
                addr=(row.get("addr") or "").strip(),
            )
        )
    return out


def _tokens(name: str) -> set[str]:
    return set(re.split(r"[-_.:/ ]+", name.lower()))


def active_backends(topo: Topology, servers: list[Server]) -> dict[tuple[str, str], int]:
    """{(system, site): 1 if the front door routes the system to that site now, else 0}."""
    by_addr = {str(s.lab_address): s.name for s in topo.sites}
    out: dict[tuple[str, str], int] = {}
    for system in topo.systems:
        if system.app is None:
            continue
        port = str(system.app.port)
        mine: list[tuple[str, Server]] = []
        for server in servers:
            host, _, sport = server.addr.rpartition(":")
            site = by_addr.get(host)
            if site is not None and sport == port:
                matched = True
            else:
                matched = system.name in _tokens(server.backend)
                site = next((p for p in system.placement if p in _tokens(server.name)), None)
            if matched and site in system.placement:
                mine.append((site, server))
        if not mine:
            continue  # the front door does not serve this system (or names it unrecognisably)
        usable = [(site, s) for site, s in mine if s.status.startswith(USABLE)]
        active = {site for site, s in usable if not s.backup}
        if not active:
            backups = [site for site, s in usable if s.backup]
            active = set(backups[:1])
        for site in system.placement:
            out[(system.name, site)] = 1 if site in active else 0
    return out
