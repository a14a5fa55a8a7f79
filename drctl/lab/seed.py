"""`drctl lab seed`: loads realistic volume into the lab's ECM and CRM databases.

The data goes in through each system's database router (the site HAProxy, which follows the
leader), as the applications' own database user, so it replicates like any other write. The
loader is apps.seed; this module finds the endpoints and credentials and shows progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from drctl.errors import EstateError
from drctl.lab import secrets
from drctl.lab.paths import LabPaths
from drctl.topology.model import Topology

SYSTEMS = ("ecm", "crm")
Seeder = Callable[[str, str, int, int, Callable[[str, int, int], None] | None], None]


def lab_dsns(topo: Topology, password: str) -> dict[str, list[str]]:
    """For each system, a DSN per database router, in placement order (primary site first)."""
    out: dict[str, list[str]] = {}
    for name in SYSTEMS:
        system = topo.system(name)
        out[name] = [
            f"host={topo.site(site).lab_address} port={system.database.router_port} "
            f"dbname={name} user={name} password={password} connect_timeout=2 "
            "application_name=drctl-seed"
            for site in system.placement
        ]
    return out


def writable(candidates: list[str]) -> str | None:
    """The first DSN that reaches a primary (a router mid-failover may not)."""
    for dsn in candidates:
        try:
            with psycopg.connect(dsn) as conn:
                row = conn.execute("SELECT NOT pg_is_in_recovery()").fetchone()
                if row and row[0]:
                    return dsn
        except psycopg.Error:
            continue
    return None


def run_seed(
    dsns: dict[str, list[str]],
    documents: int,
    tickets: int,
    console: Console | None = None,
    seeder: Seeder | None = None,
) -> int:
    """Seed through the first writable router of each system, with a progress bar."""
    from apps.seed import seed

    console = console or Console()
    chosen: dict[str, str] = {}
    for name in SYSTEMS:
        dsn = writable(dsns[name])
        if dsn is None:
            raise EstateError(
                f"{name}: no database router reaches a primary ({_where(dsns[name])}); "
                "is the lab up? (drctl lab status)"
            )
        chosen[name] = dsn
    console.print(
        f"seeding ECM through {_where([chosen['ecm']])}, CRM through {_where([chosen['crm']])}"
    )
    started = time.monotonic()
    first: dict[str, int] = {}
    columns = (
        TextColumn("{task.description:>9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        tasks = {
            "documents": bar.add_task("documents", total=documents),
            "tickets": bar.add_task("tickets", total=tickets),
        }

        def progress(stage: str, done: int, total: int) -> None:
            first.setdefault(stage, done)
            bar.update(tasks[stage], completed=done, total=total)

        try:
            (seeder or seed)(chosen["ecm"], chosen["crm"], documents, tickets, progress)
        except psycopg.errors.UndefinedTable as exc:
            raise EstateError(f"schema missing ({exc}); run drctl lab up first") from exc
        except psycopg.Error as exc:
            raise EstateError(f"seed failed: {str(exc).strip()}") from exc
    seconds = time.monotonic() - started
    added_docs = documents - first.get("documents", documents)
    added_tickets = tickets - first.get("tickets", tickets)
    rate = (added_docs + added_tickets) / seconds if seconds > 0 else 0.0
    console.print(
        f"lab seed: ECM has {documents:,} documents (+{max(0, added_docs):,}), CRM has "
        f"{tickets:,} tickets (+{max(0, added_tickets):,}) in {seconds:.1f} s ({rate:,.0f}/s)"
    )
    return 0


def seed_lab(topo: Topology, documents: int, tickets: int, paths: LabPaths | None = None) -> int:
    paths = paths or LabPaths.default()
    if not paths.secrets.exists():
        raise EstateError(f"{paths.secrets} not found: run drctl lab up first")
    password = secrets.load(paths.secrets)["db_app"]
    return run_seed(lab_dsns(topo, password), documents, tickets)


def _where(candidates: list[str]) -> str:
    """host:port of each DSN, never the password."""
    parts = []
    for dsn in candidates:
        fields = dict(p.split("=", 1) for p in dsn.split() if "=" in p)
        parts.append(f"{fields.get('host', '?')}:{fields.get('port', '5432')}")
    return ", ".join(parts)
