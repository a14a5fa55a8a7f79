"""Data corruption and its cure: a point-in-time restore of a Patroni cluster from pgBackRest.

Replication copies a bad UPDATE to every replica within milliseconds, so the way back is the
backup repository. The restore follows Patroni's own recipe for a cluster restored from a
backup: stop every member, forget the cluster in etcd, rebuild one member's data directory from
the repository (roles/pgbackrest's drctl-pg-restore replays WAL up to the target with
PostgreSQL alone, until it promotes), start that member's Patroni (it takes the cluster over
from its data directory), then the others (they clone the new leader).
"""

from __future__ import annotations

import math
import re
import shlex
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql

from drctl.errors import DrctlError, EstateError

if TYPE_CHECKING:
    from drills.actions import Context


class RestoreFailed(DrctlError):
    pass


# PostgreSQL's log, as drctl-pg-restore prints it
_LAST_TX = re.compile(r"last completed transaction was at log time (\S+ \S+)")
_STOPPED_BEFORE = re.compile(r"recovery stopping before commit of transaction \d+, time (\S+ \S+)")


@dataclass
class RestoreOutcome:
    system: str
    target: float | None  # epoch seconds; None: every archived WAL segment ("latest")
    repo: int
    started: float  # the cluster is stopped from here on: users see the outage
    finished: float  # the restored leader runs
    last_transaction: float | None  # commit time of the last transaction recovered
    log: str


def _dsn(ctx: Context, system: str, site: str, dbname: str) -> str:
    db = ctx.topology.system(system).database
    password = ctx.estate.secret("db_superuser")
    return (
        f"host={ctx.estate.address(site)} port={db.port} user=postgres "
        f"password={password} dbname={dbname} connect_timeout=2"
    )


def _primary(ctx: Context, system: str) -> str:
    site = ctx.clusters[system].leader_site()
    if site is None:
        raise RestoreFailed(f"{system}: the cluster has no primary")
    return site


def table_digest(ctx: Context, system: str, table: str) -> tuple[int, str]:
    """(rows, MD5 over every row's text, order-free) of a table of the system's database."""
    query = sql.SQL(
        "SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '')"
        " FROM {} AS t"
    ).format(sql.Identifier(table))
    try:
        with psycopg.connect(_dsn(ctx, system, _primary(ctx, system), system)) as conn:
            row = conn.execute(query).fetchone()
    except psycopg.Error as exc:
        raise RestoreFailed(f"{system}: cannot read table {table}: {exc}") from exc
    assert row is not None
    return int(row[0]), str(row[1])


def corrupt(ctx: Context, system: str, table: str, column: str) -> str:
    """Overwrite one column of every row on the primary, as ransomware or a bad migration
    would: the replicas copy it. The table's digest before is kept for `db.table_intact`."""
    rows, digest = table_digest(ctx, system, table)
    ctx.digests[(system, table)] = (rows, digest)
    stmt = sql.SQL("UPDATE {} SET {} = 'CORRUPTED ' || md5(random()::text)").format(
        sql.Identifier(table), sql.Identifier(column)
    )
    try:
        with psycopg.connect(_dsn(ctx, system, _primary(ctx, system), system)) as conn:
            changed = conn.execute(stmt).rowcount
    except psycopg.Error as exc:
        raise RestoreFailed(f"{system}: corruption of {table}.{column} failed: {exc}") from exc
    return f"{changed} of {rows} rows of {table}.{column} overwritten (digest before {digest})"


def table_intact(ctx: Context, system: str, table: str) -> tuple[bool, str]:
    """The table holds exactly the rows it held before `corrupt`."""
    before = ctx.digests.get((system, table))
    if before is None:
        return False, f"no digest of {table} was taken before the fault"
    rows, digest = table_digest(ctx, system, table)
    if (rows, digest) == before:
        return True, f"{rows} rows identical to before the fault"
    return False, f"{rows} rows (before: {before[0]}), digest {digest} != {before[1]}"


def latest_backup(ctx: Context, system: str) -> float | None:
    """End of the system's last successful backup in any repository (pgbackrest info at the
    site of the cluster's primary), epoch seconds."""
    from drctl.backup.models import parse_info

    name = ctx.topology.system(system).database.cluster
    out = _script(ctx, _primary(ctx, system), "info", name, timeout=60)
    stanzas = [st for st in parse_info(out) if st.name == name]
    latest = stanzas[0].latest if stanzas else None
    return float(latest.timestamp.stop) if latest is not None else None


def backup_recent(ctx: Context, system: str, max_age: float) -> tuple[bool, str]:
    last = latest_backup(ctx, system)
    if last is None:
        return False, f"{system}: no successful backup"
    age = time.time() - last
    return age <= max_age, f"{system}: last backup {age:.0f} s ago (limit {max_age:g} s)"


def _script(ctx: Context, site: str, *args: str, timeout: float) -> str:
    command = " ".join(shlex.quote(a) for a in (ctx.estate.restore_script(site), *args))
    return ctx.estate.run_command(site, command, timeout=timeout)


def _parse_time(text: str) -> float | None:
    if re.search(r"[+-]\d\d$", text):  # PostgreSQL writes "+00"; Python wants "+00:00"
        text += ":00"
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f%z").timestamp()
    except ValueError:
        try:
            return datetime.strptime(text, "%Y-%m-%d %H:%M:%S%z").timestamp()
        except ValueError:
            return None


def last_transaction(log: str) -> float | None:
    """Commit time of the last transaction recovery replayed, from PostgreSQL's log."""
    times = [_parse_time(m) for m in _LAST_TX.findall(log)]
    found = [t for t in times if t is not None]
    return max(found) if found else None


def pgbackrest_time(epoch: float) -> str:
    """The form pgBackRest parses (milliseconds, UTC), rounded up: with --target-exclusive
    every transaction committed before `epoch` is kept."""
    ms = math.ceil(epoch * 1000)
    when = datetime.fromtimestamp(ms // 1000, UTC)
    return f"{when:%Y-%m-%d %H:%M:%S}.{ms % 1000:03d}+00"


def restore(ctx: Context, system: str, target: str, repo: int, timeout: float) -> RestoreOutcome:
    """Restore `system`'s cluster to just before `target` ("t0": its fault; "latest": every
    archived segment) from repository `repo`; the preferred primary site becomes the leader."""
    cluster = ctx.clusters[system]
    name = cluster.system.database.cluster
    placement = list(cluster.system.placement)
    deadline = time.monotonic() + timeout
    when: float | None
    if target == "t0":
        when = ctx.fault_at(system)
        if when is None:
            raise RestoreFailed("db.restore to t0 outside a drill's fault")
    elif target == "latest":
        when = None
    else:
        raise RestoreFailed(f"db.restore target must be 't0' or 'latest', not {target!r}")
    live = [s for s in placement if not ctx.estate.is_fenced(s)]
    leader = cluster.leader_site()
    if when is not None:
        if leader is None:
            raise RestoreFailed(f"{name}: no primary to archive the WAL up to the target from")
        # the segment holding the target must reach the repository before anything stops
        _script(ctx, leader, "archive-now", name, timeout=120)
    started = time.time()
    # replicas first: a leader stopped first would let a replica take over for a moment
    for site in sorted(live, key=lambda s: s == leader):
        if not ctx.estate.is_service_down(site, name):  # db.destroy left it down
            ctx.estate.stop_service(site, name)
    for site in live:
        _script(ctx, site, "set-aside", name, timeout=120)
    cluster.forget()
    home = placement[0]
    iso = "latest" if when is None else pgbackrest_time(when)
    left = max(30.0, deadline - time.monotonic())
    log = _script(ctx, home, "restore", name, iso, str(repo), timeout=left)
    ctx.estate.start_service(home, name)
    cluster.wait_leader(home, max(30.0, deadline - time.monotonic()))
    finished = time.time()  # users can be served again from here
    for site in live:
        if site != home:
            ctx.estate.start_service(site, name)  # clones the new leader
    return RestoreOutcome(system, when, repo, started, finished, last_transaction(log), log)


def destroy(ctx: Context, system: str) -> str:
    """Loss of every copy of the cluster at the data centres (both sites' storage gone, or
    encrypted): each member is killed and its data directory taken away. Set aside rather than
    deleted, so that a rollback (start_members) can put it back if the restore fails."""
    cluster = ctx.clusters[system]
    name = cluster.system.database.cluster
    live = [s for s in cluster.system.placement if not ctx.estate.is_fenced(s)]
    if not live:
        raise RestoreFailed(f"{name}: every site is fenced; nothing to destroy")
    for site in live:
        ctx.estate.kill_service(site, name)
    for site in live:
        _script(ctx, site, "set-aside", name, timeout=120)
    return f"{name} killed and its data directory gone at {', '.join(live)}"


def start_members(ctx: Context, system: str, timeout: float) -> str:
    """Rollback of a restore that did not finish: the cluster runs again at every site that is
    not fenced. A member whose data directory is missing gets back the one set aside (the data as
    it was, damage included) unless a leader already runs to clone from."""
    cluster = ctx.clusters[system]
    name = cluster.system.database.cluster
    live = [s for s in cluster.system.placement if not ctx.estate.is_fenced(s)]
    stopped = [s for s in live if ctx.estate.is_service_down(s, name)]
    if not stopped:
        return "every member runs"
    if cluster.leader_site() is None:
        for site in stopped:
            _script(ctx, site, "put-back", name, timeout=60)
        cluster.forget()  # whatever a half-done restore left in etcd
    for site in stopped:
        try:
            ctx.estate.start_service(site, name)
        except EstateError as exc:
            raise RestoreFailed(f"{name} at {site}: {exc}") from exc
    leader = cluster.wait_leader(None, timeout)
    return f"started {', '.join(stopped)}; leader at {leader}"
