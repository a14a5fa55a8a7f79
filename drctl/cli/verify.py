"""drctl verify --inventory PATH: testinfra checks on every host of an inventory, over SSH."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from drctl.errors import ConfigError
from drctl.estate.base import HostCheck
from drctl.topology import DEFAULT_PATH, load_topology


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "verify",
        help="check every host over SSH (testinfra): services, Patroni, disk, keys",
        description=(
            "Connect to every host of an inventory over SSH and check that its services listen, "
            "its Patroni members run (one primary per cluster), its data disk has room and its "
            "keys have safe modes. Exit 1 when any check fails."
        ),
    )
    parser.add_argument(
        "--inventory",
        type=Path,
        required=True,
        metavar="PATH",
        help="inventory file or directory, e.g. inventories/lab-ssh",
    )
    parser.add_argument("--topology", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--site", action="append", help="only this site's hosts (repeatable)")
    parser.set_defaults(func=_verify)


def results_table(checks: list[HostCheck]) -> Table:
    table = Table(title="host verification")
    for col in ("host", "check", "result", "detail"):
        table.add_column(col)
    for c in checks:
        mark = "[green]pass[/green]" if c.passed else "[red]FAIL[/red]"
        table.add_row(c.host, c.check, mark, c.detail)
    return table


def _verify(args: argparse.Namespace) -> int:
    from drctl.production.checks import verify
    from drctl.production.hosts import inventory_file, load_inventory

    if not args.inventory.exists():
        raise ConfigError.single(args.inventory, "", "inventory not found")
    if not inventory_file(args.inventory).exists():
        raise ConfigError.single(
            inventory_file(args.inventory), "", "no hosts.yml in this directory"
        )
    topo = load_topology(args.topology)
    inventory = load_inventory(args.inventory)
    skip: set[str] = set()
    if args.site:
        unknown = set(args.site) - {h.site for h in inventory.hosts}
        if unknown:
            raise ConfigError.single(
                inventory.path, "all.hosts", f"no host at site(s) {', '.join(sorted(unknown))}"
            )
        skip = {h.site for h in inventory.hosts} - set(args.site)
    start = time.monotonic()
    checks = verify(inventory, topo, skip_sites=skip)
    console = Console()
    console.print(results_table(checks))
    failed = [c for c in checks if not c.passed]
    hosts = len({c.host for c in checks if c.host != "(estate)"})
    console.print(
        f"{len(checks) - len(failed)}/{len(checks)} checks passed on {hosts} host(s) "
        f"in {time.monotonic() - start:.1f} s"
    )
    for c in failed:
        console.print(f"FAILED {c.host}: {c.check}: {c.detail}", markup=False)
    return 1 if failed else 0
