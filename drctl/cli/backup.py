"""drctl backup run | list | verify | offsite"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

from drctl.backup import (
    BackupKind,
    Backups,
    Check,
    PgBackRest,
    Verifier,
    stanzas_of,
    status_document,
    write_status,
)
from drctl.backup.commands import DEFAULT_CONFIG
from drctl.backup.status import archive_lag_seconds, read_archiver, status_file_path
from drctl.errors import DrctlError
from drctl.estate.lab import LabEstate
from drctl.estate.patroni import Cluster
from drctl.inventory.production import DEFAULT_OUT as PRODUCTION_INVENTORY_DIR
from drctl.lab.paths import LabPaths
from drctl.topology import DEFAULT_PATH, load_topology
from drctl.topology.model import Topology

PRODUCTION_INVENTORY = PRODUCTION_INVENTORY_DIR / "hosts.yml"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("backup", help="take, list and verify pgBackRest backups")
    bsub = parser.add_subparsers(dest="action", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        default=Path(os.environ.get("DRCTL_PGBACKREST_CONFIG", str(DEFAULT_CONFIG))),
        help="pgBackRest configuration (default: $DRCTL_PGBACKREST_CONFIG or %(default)s)",
    )
    common.add_argument("--topology", type=Path, default=DEFAULT_PATH)

    run = bsub.add_parser("run", parents=[common], help="take a backup of a system's cluster")
    run.add_argument("system", help="system (ecm) or cluster (ecm-db)")
    run.add_argument("--type", choices=[k.value for k in BackupKind], default="full")
    run.add_argument(
        "--status-file",
        type=Path,
        default=None,
        help="JSON status the exporter reads (default: $DRCTL_BACKUP_STATUS or "
        "/var/lib/drctl/backup-status.json)",
    )
    run.add_argument("--no-status", action="store_true", help="do not write the status file")
    run.set_defaults(func=_run)

    ls = bsub.add_parser("list", parents=[common], help="list every cluster's backups")
    ls.add_argument("--json", action="store_true", help="the status document, as JSON")
    ls.set_defaults(func=_list)

    verify = bsub.add_parser(
        "verify", parents=[common], help="restore the latest backup into a scratch cluster"
    )
    verify.add_argument("systems", nargs="*", help="systems or clusters (default: all)")
    verify.add_argument("--set", dest="label", help="a backup set label instead of the latest")
    verify.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="NAME[@DB]=SQL",
        help="a query the restored cluster must answer (repeatable)",
    )
    verify.add_argument("--expect", action="append", default=[], metavar="NAME=VALUE")
    verify.add_argument("--scratch", type=Path, help="where the scratch directory goes")
    verify.add_argument("--keep", action="store_true", help="keep the scratch directory")
    verify.set_defaults(func=_verify)

    offsite = bsub.add_parser(
        "offsite", help="check the off-site copies in S3 (production: the OffsiteBackup bucket)"
    )
    offsite.add_argument("--topology", type=Path, default=DEFAULT_PATH)
    offsite.add_argument(
        "--inventory",
        type=Path,
        default=PRODUCTION_INVENTORY,
        help="the inventory naming the buckets (drctl_backup; default: %(default)s)",
    )
    offsite.add_argument(
        "--max-age-hours",
        type=float,
        default=26.0,
        help="the newest copy may be this old (default: %(default)s: a daily backup, with slack)",
    )
    offsite.set_defaults(func=_offsite)


def _backups(args: argparse.Namespace) -> Backups:
    topo = load_topology(args.topology)
    return Backups(stanzas_of(topo), PgBackRest(config=_config(args, topo)))


def _config(args: argparse.Namespace, topo: Topology) -> Path:
    """--config; else, on a machine running the lab and no system-wide configuration, the lab's
    one at the site where the system's primary runs now (pgBackRest backs up from the primary:
    elsewhere it fails with "unable to find primary cluster")."""
    given: Path = args.config
    lab = LabPaths.default()
    if given.exists() or given != DEFAULT_CONFIG or not lab.lab.is_dir():
        return given
    name = getattr(args, "system", None) or topo.systems[0].name
    system = next((s for s in topo.systems if name in (s.name, s.database.cluster)), None)
    site = None
    if system is not None:
        addresses = {s.name: str(s.lab_address) for s in topo.sites}
        site = Cluster(topo, system, addresses).leader_site() or system.placement[0]
    conf = lab.site_dir(site or topo.systems[0].placement[0]) / "pgbackrest" / "pgbackrest.conf"
    return conf if conf.exists() else given


def _run(args: argparse.Namespace) -> int:
    backups = _backups(args)
    result = backups.run(args.system, BackupKind(args.type))
    b = result.backup
    print(
        f"{result.stanza}: {b.type} backup {b.label} in {result.seconds:.1f} s "
        f"({b.info.size / 2**20:.1f} MiB, {b.info.repository.delta / 2**20:.1f} MiB stored)"
    )
    if not args.no_status:
        path = args.status_file or status_file_path()
        systems = {s: n for n, s in backups.stanzas.items()}
        lags = _lab_archive_lags(load_topology(args.topology))
        write_status(path, status_document(backups.list(), systems, lags))
        print(f"status written to {path}")
    return 0


def _lab_archive_lags(topo: Topology) -> dict[str, float] | None:
    """WAL archive lag per cluster, from pg_stat_archiver at its primary, when this machine runs
    the lab (production's exporter hosts get it from their own status writer)."""
    lab = LabPaths.default()
    if not lab.secrets.exists():
        return None
    estate = LabEstate(topo, lab)
    addresses = {s.name: estate.address(s.name) for s in topo.sites}
    lags: dict[str, float] = {}
    for system in topo.systems:
        site = Cluster(topo, system, addresses).leader_site()
        if site is None:
            continue
        db = system.database
        dsn = (
            f"host={addresses[site]} port={db.port} user=postgres dbname=postgres "
            f"password={estate.secret('db_superuser')} connect_timeout=3"
        )
        try:
            lags[db.cluster] = archive_lag_seconds(read_archiver(dsn), time.time())
        except (OSError, ValueError, psycopg.Error):
            continue  # no figure rather than a wrong one
    return lags


def _list(args: argparse.Namespace) -> int:
    backups = _backups(args)
    stanzas = backups.list()
    if args.json:
        systems = {s: n for n, s in backups.stanzas.items()}
        print(json.dumps(status_document(stanzas, systems), indent=2, sort_keys=True))
        return 0
    table = Table(title="backups")
    for col in ("cluster", "label", "type", "finished (UTC)", "seconds", "size MiB", "stored MiB"):
        table.add_column(col, no_wrap=col in ("cluster", "label"))
    for s in stanzas:
        if not s.backup:
            table.add_row(s.name, "-", "-", s.status.message, "", "", "")
        for b in s.backup:
            table.add_row(
                s.name,
                b.label + (" (page errors)" if b.error else ""),
                str(b.type),
                b.stopped_at.strftime("%Y-%m-%d %H:%M:%S"),
                str(b.duration_seconds),
                f"{b.info.size / 2**20:.1f}",
                f"{b.info.repository.delta / 2**20:.1f}",
            )
    Console().print(table)
    return 0


def parse_checks(specs: list[str], expects: list[str]) -> list[Check]:
    """`NAME[@DB]=SQL` and `NAME=VALUE` options -> checks."""
    expected: dict[str, str] = {}
    for e in expects:
        name, sep, value = e.partition("=")
        if not sep:
            raise DrctlError(f"--expect {e!r}: expected NAME=VALUE")
        expected[name] = value
    checks = []
    for spec in specs:
        head, sep, sql = spec.partition("=")
        if not sep or not sql.strip() or not head:
            raise DrctlError(f"--check {spec!r}: expected NAME[@DB]=SQL")
        name, _, db = head.partition("@")
        checks.append(Check(name, sql, db or "postgres", expected.pop(name, None)))
    if expected:
        raise DrctlError(f"--expect names no --check: {', '.join(sorted(expected))}")
    return checks


def _verify(args: argparse.Namespace) -> int:
    backups = _backups(args)
    checks = parse_checks(args.check, args.expect)
    verifier = Verifier(backups, scratch_root=args.scratch, keep=args.keep)
    names = args.systems or list(backups.stanzas)
    for name in names:
        report = verifier.verify(name, checks, label=args.label)  # raises when damaged
        for r in report.results:
            print(f"  {r.name:<12} ok  {r.seconds:6.2f} s  {r.detail}")
        print(
            f"{report.stanza}: backup {report.label} verified in {report.total_seconds:.1f} s "
            f"(restore {report.seconds('restore'):.1f} s)"
        )
    return 0


def _offsite(args: argparse.Namespace) -> int:
    """Every stanza has a recent copy in the bucket, and in its replica; exit 1 otherwise."""
    from datetime import timedelta

    from drctl.production.aws import AwsDriver

    if args.max_age_hours <= 0:
        raise DrctlError(f"--max-age-hours {args.max_age_hours:g}: must be more than 0")
    stanzas = sorted(stanzas_of(load_topology(args.topology)).values())
    driver = AwsDriver.from_inventory(args.inventory)
    checks = driver.check_offsite(stanzas, timedelta(hours=args.max_age_hours))
    for check in checks:
        print(check)
    return 0 if all(c.ok for c in checks) else 1
