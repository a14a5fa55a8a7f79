"""The `drctl` command line: one entry point, a module per concern registering its subcommands.

Exit codes: 0 success, 1 a failed check or bad input, 2 a usage error (argparse's own).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from drctl.errors import DrctlError

# Each module defines register(subparsers); its handlers return an exit code.
COMMAND_MODULES = [
    "drctl.cli.topology",
    "drctl.cli.lab",
    "drctl.cli.inventory",
    "drctl.cli.deploy",
    "drctl.cli.drill",
    "drctl.cli.backup",
    "drctl.cli.verify",
    "drctl.cli.plan",
    "drctl.cli.exporter",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drctl", description="Infrastructure as code and disaster-recovery drills."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a concern not built yet
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if not sys.stdout.isatty():
        # tables piped to a log or CI: wide enough not to wrap names and addresses
        os.environ.setdefault("COLUMNS", "140")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except DrctlError as exc:
        print(f"drctl: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("drctl: interrupted", file=sys.stderr)
        return 130
    return code
