"""drctl topology validate | show"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from drctl.topology import DEFAULT_PATH, load_topology


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("topology", help="validate or show the estate's topology")
    tsub = parser.add_subparsers(dest="action", required=True)
    validate = tsub.add_parser("validate", help="validate a topology file")
    validate.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH)
    validate.set_defaults(func=_validate)
    show = tsub.add_parser("show", help="print the sites and systems as tables")
    show.add_argument("--path", type=Path, default=DEFAULT_PATH)
    show.set_defaults(func=_show)


def _validate(args: argparse.Namespace) -> int:
    topo = load_topology(args.path)
    print(f"{args.path}: valid ({len(topo.sites)} sites, {len(topo.systems)} systems)")
    return 0


def _show(args: argparse.Namespace) -> int:
    topo = load_topology(args.path)
    console = Console()
    sites = Table(title=f"{topo.organisation}: sites")
    for col in ("site", "role", "location", "lab address", "services", "team"):
        # names and addresses are what people copy: never cut them, wrap the prose instead
        sites.add_column(col, no_wrap=col in ("site", "role", "lab address"))
    for s in topo.sites:
        services = [str(x) for x in s.services] + [f"{x.name}-db" for x in topo.systems_at(s.name)]
        sites.add_row(
            s.name, str(s.role), s.location, str(s.lab_address), ", ".join(services), s.team
        )
    console.print(sites)
    systems = Table(title="systems")
    for col in ("system", "tier", "RTO s", "RPO s", "replication", "placement", "db", "depends on"):
        systems.add_column(col, no_wrap=col in ("system", "replication"))
    for sy in sorted(topo.systems, key=lambda s: (s.tier, s.recovery_order)):
        systems.add_row(
            sy.name,
            str(sy.tier),
            f"{sy.objectives.rto_seconds:g}",
            f"{sy.objectives.rpo_seconds:g}",
            str(sy.replication),
            " → ".join(sy.placement),
            f"{sy.database.cluster} :{sy.database.port}",
            ", ".join(sy.depends_on) or "-",
        )
    console.print(systems)
    waves = " | ".join(", ".join(s.name for s in w) for w in topo.recovery_waves())
    console.print(f"recovery waves (parallel within a wave): {waves}")
    return 0
