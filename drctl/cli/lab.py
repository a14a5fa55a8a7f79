"""drctl lab up | status | down | seed"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from drctl.estate.base import ServiceHealth
from drctl.lab import lifecycle
from drctl.lab.health import check_all, skipped_tags
from drctl.lab.paths import LabPaths
from drctl.topology import DEFAULT_PATH, load_topology


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("lab", help="run the whole estate on this machine")
    parser.add_argument(
        "--topology", type=lambda p: __import__("pathlib").Path(p), default=DEFAULT_PATH
    )
    lsub = parser.add_subparsers(dest="action", required=True)
    up = lsub.add_parser("up", help="deploy and start every site (idempotent)")
    up.add_argument("--skip-tags", help="skip role groups, e.g. apps,monitoring")
    up.set_defaults(func=_up)
    lsub.add_parser("status", help="health of every site and service").set_defaults(func=_status)
    down = lsub.add_parser("down", help="stop everything, remove firewall rules")
    down.add_argument("--purge", action="store_true", help="also delete the lab's data")
    down.set_defaults(func=_down)
    seed = lsub.add_parser("seed", help="load realistic data volume into ECM and CRM")
    seed.add_argument("--documents", type=_count, default=10_000, help="ECM total (default 10,000)")
    seed.add_argument("--tickets", type=_count, default=50_000, help="CRM total (default 50,000)")
    seed.set_defaults(func=_seed)


def health_table(checks: list[ServiceHealth]) -> Table:
    table = Table(title="lab status")
    for col in ("site", "service", "endpoint", "health", "detail"):
        table.add_column(col)
    for c in checks:
        mark = "[green]up[/green]" if c.healthy else "[red]DOWN[/red]"
        table.add_row(c.site, c.service, c.endpoint, mark, c.detail)
    return table


def _up(args: argparse.Namespace) -> int:
    topo = load_topology(args.topology)
    result = lifecycle.up(topo, skip_tags=args.skip_tags)
    console = Console()
    console.print(health_table(result.health))
    if result.changes:
        for change in result.changes:
            console.print(f"  changed: {change}")
        console.print(f"lab up: {len(result.changes)} change(s) in {result.seconds:.1f} s")
    else:
        console.print(f"lab up: no change ({result.seconds:.1f} s)")
    return 0 if result.healthy else 1


def _status(args: argparse.Namespace) -> int:
    from drctl.lab import firewall, wan

    topo = load_topology(args.topology)
    paths = LabPaths.default()
    checks = check_all(topo, skipped_tags(paths))
    console = Console()
    console.print(health_table(checks))
    cut = firewall.partitioned()
    if cut:
        console.print(f"partitioned: {', '.join(sorted(cut))}")
    slow = wan.active(paths)
    if slow:
        console.print("latency: " + ", ".join(f"{s} +{w.ms:g} ms" for s, w in sorted(slow.items())))
    bad = sum(not c.healthy for c in checks)
    console.print(f"{len(checks) - bad}/{len(checks)} services healthy")
    return 0 if bad == 0 and not cut else 1


def _down(args: argparse.Namespace) -> int:
    topo = load_topology(args.topology)
    for line in lifecycle.down(topo, purge=args.purge):
        print(line)
    left = lifecycle.leftovers(LabPaths.default())
    if left:
        print("left behind: " + ", ".join(left))
        return 1
    print("lab down: nothing left running")
    return 0


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _seed(args: argparse.Namespace) -> int:
    from drctl.lab.seed import seed_lab

    code: int = seed_lab(load_topology(args.topology), args.documents, args.tickets)
    return code
