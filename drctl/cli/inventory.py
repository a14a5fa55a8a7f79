"""drctl inventory from-stack: the production Ansible inventory from the Pulumi stack outputs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from drctl.errors import DrctlError
from drctl.inventory import DEFAULT_OUT, load_stack_output, parse_stack_output, write
from drctl.topology import DEFAULT_PATH, load_topology

STDIN = Path("<stdin>")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("inventory", help="build Ansible inventories")
    isub = parser.add_subparsers(dest="action", required=True)
    from_stack = isub.add_parser(
        "from-stack",
        help="write the production inventory from `pulumi stack output --json`",
        description=(
            "Turn the Pulumi stack's outputs into an Ansible inventory with the lab's groups and "
            "variables, e.g. `pulumi stack output --json | drctl inventory from-stack`."
        ),
    )
    from_stack.add_argument(
        "--stack-output",
        metavar="FILE",
        default="-",
        help="the JSON of `pulumi stack output --json` (default -: standard input)",
    )
    from_stack.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=DEFAULT_OUT,
        help="inventory directory to write hosts.yml into (default inventories/production)",
    )
    from_stack.add_argument("--topology", type=Path, default=DEFAULT_PATH, help=argparse.SUPPRESS)
    from_stack.set_defaults(func=_from_stack)


def _from_stack(args: argparse.Namespace) -> int:
    topo = load_topology(args.topology)
    if args.stack_output == "-":
        if sys.stdin.isatty():
            raise DrctlError(
                "no stack output on standard input: run "
                "`pulumi stack output --json | drctl inventory from-stack` "
                "or pass --stack-output FILE"
            )
        source = STDIN
        output = parse_stack_output(sys.stdin.read(), source)
    else:
        source = Path(args.stack_output)
        output = load_stack_output(source)
    path = write(output, topo, source, args.out)
    sites = len({h.site for h in output.hosts})
    stack = f" (stack {output.stack})" if output.stack else ""
    print(f"{path}: {len(output.hosts)} hosts at {sites} sites{stack}")
    return 0
