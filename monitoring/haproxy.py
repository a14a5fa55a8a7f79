"""Which site the front door sends each system's users to, from HAProxy's stats CSV.

Backends and servers are matched to the topology by address (a server's `addr` is a site's
lab address and the system's app port), falling back to names (a backend named after the
system, a server named after the site), so the front door's configuration may name them freely.
HAProxy sends traffic to the usable non-backup servers; only when none is usable does it use
the first usable backup server (without `option allbackups`). That is what is reported.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection
from typing import NamedTuple

from drctl.topology.model import System, Topology

USABLE = ("UP", "no check", "OPEN")


class Server(NamedTuple):  # a tuple: built a thousand times a scrape
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
    # csv.reader and column indices rather than DictReader: a dict per row is most of the
    # parse at 1,000 backends (3,000 rows)
    rows = csv.reader(lines)
    header = next(rows)
    header[0] = header[0][2:]
    column = {name: i for i, name in enumerate(header)}  # the last of a name, as DictReader
    if "pxname" not in column or "svname" not in column:
        raise ValueError("HAProxy stats CSV without pxname and svname columns")
    # a column HAProxy did not send reads as "": its index is one past the header's, and rows
    # are cut to the header's width and padded with "" up to the highest index read
    n = len(header)
    px, sv, st, bck, addr = index = [
        column.get(name, n) for name in ("pxname", "svname", "status", "bck", "addr")
    ]
    need = max(index) + 1
    pad = [""] * need
    out = []
    for row in rows:
        if len(row) > n:
            del row[n:]
        if len(row) < need:
            row += pad[len(row) :]
        if row[sv] in ("FRONTEND", "BACKEND") or not row[px]:
            continue
        out.append(Server(row[px], row[sv], row[st].strip(), row[bck].strip() == "1",
                          row[addr].strip()))  # fmt: skip
    return out


def _named(name: str, names: Collection[str]) -> str | None:
    """`name` itself if it is one of `names`, else the first of its parts that is."""
    name = name.lower()
    if name in names:
        return name
    return next((t for t in re.split(r"[_.:/ ]+|-", name) if t in names), None)


class FrontDoorMap:
    """What the topology says about the front door's servers, worked out once (the exporter
    asks on every scrape)."""

    def __init__(self, topo: Topology) -> None:
        by_addr = {str(s.lab_address): s.name for s in topo.sites}
        app_port = {s.app.port: s for s in topo.systems if s.app is not None}
        # (a site's address, a system's app port) -> (system, site), where the site is one of
        # the system's
        self.by_address: dict[tuple[str, int], tuple[System, str]] = {}
        for port, system in app_port.items():
            for site in system.placement:
                address = str(topo.site(site).lab_address)
                if by_addr[address] == site:
                    self.by_address[(address, port)] = (system, site)
        self.by_name = {s.name: s for s in topo.systems}
        self.served = [s for s in topo.systems if s.app is not None]

    def active(self, servers: list[Server]) -> dict[tuple[str, str], int]:
        """{(system, site): 1 if the front door routes the system to that site now, else 0}."""
        # each server matched once: by address (a site's address and a system's app port), else
        # by names (a backend named after the system, the server after one of its sites)
        mine: dict[str, list[tuple[str, Server]]] = {}
        for server in servers:
            host, _, port = server.addr.rpartition(":")
            found = self.by_address.get((host, int(port))) if port.isdigit() else None
            if found is not None:
                system, site = found
            else:
                name = _named(server.backend, self.by_name)
                if name is None:
                    continue
                system = self.by_name[name]
                named_site = _named(server.name, system.placement)
                if named_site is None:
                    continue
                site = named_site
            mine.setdefault(system.name, []).append((site, server))
        out: dict[tuple[str, str], int] = {}
        for system in self.served:
            if system.name not in mine:
                continue  # the front door does not serve it (or names it unrecognisably)
            usable = [(site, s) for site, s in mine[system.name] if s.status.startswith(USABLE)]
            active = {site for site, s in usable if not s.backup}
            if not active:
                backups = [site for site, s in usable if s.backup]
                active = set(backups[:1])
            for site in system.placement:
                out[(system.name, site)] = 1 if site in active else 0
        return out
