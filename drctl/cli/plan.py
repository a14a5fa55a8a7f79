"""drctl plan render | check"""

from __future__ import annotations

import argparse
from pathlib import Path

from drctl.plan import TRIGGERS, PlanPaths, render_plan, write_plan
from drctl.plan.check import NOW_ENV, assess, parse_now
from drctl.plan.load import (
    DEFAULT_CATALOGUE_DIR,
    DEFAULT_DATA_DIR,
    DEFAULT_PLAN_DIR,
    DEFAULT_RUNBOOKS_DIR,
)
from drctl.topology import DEFAULT_PATH
from drills.journal import journal_dir


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("plan", help="render or check the recovery plan")
    psub = parser.add_subparsers(dest="action", required=True)
    render = psub.add_parser(
        "render", help="write plan.md, plan.html and manifest.json (and a PDF if possible)"
    )
    check = psub.add_parser("check", help="exit 1 when the plan is out of date or a trigger fires")
    for p in (render, check):
        p.add_argument("--out", type=Path, default=DEFAULT_PLAN_DIR, help="the plan's directory")
        p.add_argument(
            "--journals",
            type=Path,
            default=None,
            help="drill journals (default: $DRCTL_JOURNAL_DIR or drills/journals)",
        )
        p.add_argument("--topology", type=Path, default=DEFAULT_PATH)
        p.add_argument(
            "--data",
            type=Path,
            default=DEFAULT_DATA_DIR,
            help="directory of bia.yaml, governance.yaml and backups.yaml",
        )
        p.add_argument("--runbooks", type=Path, default=DEFAULT_RUNBOOKS_DIR)
        p.add_argument("--catalogue", type=Path, default=DEFAULT_CATALOGUE_DIR)
    render.add_argument(
        "--no-pdf", action="store_true", help="skip the PDF even if a converter exists"
    )
    render.set_defaults(func=_render)
    check.add_argument(
        "--ignore-trigger",
        action="append",
        default=[],
        metavar="NAME",
        choices=sorted(TRIGGERS),
        help="report this trigger but do not fail on it (repeatable)",
    )
    check.add_argument(
        "--now",
        default=None,
        metavar="WHEN",
        help=f"evaluate time-based triggers at this ISO date or date-time (default: ${NOW_ENV} "
        "or the clock)",
    )
    check.set_defaults(func=_check)


def _paths(args: argparse.Namespace) -> PlanPaths:
    return PlanPaths(
        topology=args.topology,
        data=args.data,
        journals=args.journals or journal_dir(),
        plan=args.out,
        runbooks=args.runbooks,
        catalogue=args.catalogue,
    )


def _render(args: argparse.Namespace) -> int:
    paths = _paths(args)
    rendered = render_plan(paths)
    written = write_plan(rendered, paths.plan, pdf=not args.no_pdf)
    m = rendered.manifest
    if rendered.change is None:
        print(f"plan unchanged: version {m.version} as of {m.as_of}")
    else:
        print(
            f"plan version {m.version} as of {m.as_of}: sections changed: "
            f"{', '.join(rendered.change.sections) or 'none'}"
        )
        for reason in rendered.change.reasons:
            print(f"  {reason}")
    for path in written:
        print(f"wrote {path}")
    return 0


def _check(args: argparse.Namespace) -> int:
    ignore = frozenset(args.ignore_trigger)
    result = assess(_paths(args), parse_now(args.now) if args.now else None)
    for reason in result.suspended():
        print(f"waived: {reason}")
    for reason in result.ignored(ignore):
        print(f"ignored: {reason}")
    failing = result.failing(ignore)
    for reason in failing:
        print(reason)
    if failing:
        names = sorted({r.split(":", 1)[0] for r in failing})
        print(f"plan is stale: {len(failing)} reason(s) from {', '.join(names)}")
        return 1
    print(f"plan is current as of {result.now.strftime('%Y-%m-%dT%H:%M:%SZ')}")
    return 0
