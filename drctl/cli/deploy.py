"""drctl deploy --inventory PATH: apply the lab's roles to an inventory (production)."""

from __future__ import annotations

import argparse
from pathlib import Path

from drctl.deploy import apply_roles
from drctl.errors import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    if "deploy" in sub.choices:  # also registered by drctl.cli.inventory; once is enough
        return
    parser = sub.add_parser(
        "deploy",
        help="apply the roles to an inventory with ansible-runner",
        description=(
            "Apply roles/site.yml (the playbook the lab uses) to an inventory, e.g. the one "
            "`drctl inventory from-stack` wrote. Secrets come from the file named by "
            "DRCTL_SECRETS_FILE."
        ),
    )
    parser.add_argument(
        "--inventory",
        type=Path,
        required=True,
        metavar="PATH",
        help="inventory file or directory, e.g. inventories/production",
    )
    parser.add_argument(
        "--check", action="store_true", help="dry run: report what would change (--check --diff)"
    )
    parser.set_defaults(func=_deploy)


def _deploy(args: argparse.Namespace) -> int:
    inventory: Path = args.inventory
    if not inventory.exists():
        raise ConfigError.single(inventory, "", "inventory not found")
    if inventory.is_dir() and not any(inventory.glob("*.y*ml")):
        raise ConfigError.single(
            inventory, "", "no inventory file in this directory (run `drctl inventory from-stack`)"
        )
    return apply_roles(inventory, check=args.check)
