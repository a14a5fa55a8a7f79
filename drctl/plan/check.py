"""`drctl plan check` and `staleness()`: is the committed plan current, and does an update
trigger fire? The monitoring exporter imports `staleness` for `drctl_plan_stale{trigger}`.

Time-based triggers (drill overdue, action past due, review overdue) are evaluated at "now": the
clock, or `DRCTL_PLAN_NOW` (an ISO date or date-time) so tests and rehearsals can move it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from drctl.errors import ConfigError, DrctlError
from drctl.plan.context import PlanContext
from drctl.plan.load import PlanPaths, load_inputs
from drctl.plan.manifest import MANIFEST_NAME, Manifest, read_manifest
from drctl.plan.render import MD_NAME, Rendered, plan_files, render_context
from drctl.plan.triggers import evaluate

NOW_ENV = "DRCTL_PLAN_NOW"


def parse_now(text: str) -> datetime:
    """An ISO date ("2027-03-01", midnight UTC) or date-time; naive times are UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise DrctlError(f"not an ISO date or date-time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def resolve_now(now: datetime | None = None) -> datetime:
    if now is not None:
        return now if now.tzinfo else now.replace(tzinfo=UTC)
    if env := os.environ.get(NOW_ENV):
        return parse_now(env)
    return datetime.now(UTC)


def locate_plan_dir(plan_dir: Path) -> Path:
    """The directory holding the plan. Its parent is accepted too when the plan sits in its
    `plan/` subdirectory (runbooks/ holds the plan in runbooks/plan/)."""
    inner = plan_dir / "plan"
    if not (plan_dir / MANIFEST_NAME).exists() and (inner / MANIFEST_NAME).is_file():
        return inner
    return plan_dir


@dataclass
class Assessment:
    """Every trigger name mapped to the reasons it fires (empty: it does not), and the reasons an
    active waiver suspends, evaluated at `now`."""

    now: datetime
    fired: dict[str, list[str]]
    waived: dict[str, list[str]] = field(default_factory=dict)

    def failing(self, ignore: frozenset[str] = frozenset()) -> list[str]:
        return [f"{n}: {r}" for n, rs in self.fired.items() if n not in ignore for r in rs]

    def ignored(self, ignore: frozenset[str]) -> list[str]:
        return [f"{n}: {r}" for n, rs in self.fired.items() if n in ignore for r in rs]

    def suspended(self) -> list[str]:
        return [f"{n}: {r}" for n, rs in self.waived.items() for r in rs]


def _differs(ctx: PlanContext, fresh: Rendered) -> list[str]:
    plan_dir = ctx.plan_dir
    md = plan_dir / MD_NAME
    if ctx.previous is None:
        if md.is_file():
            return [f"{md} has no {MANIFEST_NAME} next to it: run `drctl plan render`"]
        return [f"no plan in {plan_dir}: run `drctl plan render`"]
    if fresh.change is not None:
        c = fresh.change
        what = [
            f"inputs {label}: {', '.join(keys)}"
            for label, keys in (
                ("added", c.inputs_added),
                ("changed", c.inputs_changed),
                ("removed", c.inputs_removed),
            )
            if keys
        ]
        if c.sections:
            what.append(f"sections changed: {', '.join(c.sections)}")
        return [
            f"the plan in {plan_dir} (version {ctx.previous.version}) is out of date: "
            + ("; ".join(what) or "its manifest differs")
            + f"; run `drctl plan render` (gives version {c.version})"
        ]
    return [
        f"{path} is missing or differs from a fresh render (edited by hand?): "
        "run `drctl plan render`"
        for path, text in plan_files(fresh, plan_dir)
        if not path.is_file() or path.read_bytes() != text.encode()
    ]


def assess(paths: PlanPaths, now: datetime | None = None) -> Assessment:
    """Load and validate every input (ConfigError when one is invalid), then evaluate."""
    inputs = load_inputs(paths)
    moment = resolve_now(now)
    previous: Manifest | None = None
    unreadable: list[str] = []
    try:
        previous = read_manifest(paths.plan)
    except ConfigError as exc:
        unreadable = [str(exc)]
    ctx = PlanContext.build(inputs, previous)
    found = evaluate(ctx, moment)
    found.fired["plan_differs"] = unreadable or _differs(ctx, render_context(ctx))
    return Assessment(moment, found.fired, found.waived)


def staleness(
    topology_path: Path,
    data_dir: Path,
    journals_dir: Path,
    plan_dir: Path,
    *,
    runbooks_dir: Path | None = None,
    catalogue_dir: Path | None = None,
    now: datetime | None = None,
) -> dict[str, list[str]]:
    """Every trigger name (drctl.plan.triggers.TRIGGERS) mapped to the reasons it fires now; an
    empty list means it does not fire. Raises ConfigError when an input file is invalid."""
    paths = PlanPaths.of(
        topology_path,
        data_dir,
        journals_dir,
        locate_plan_dir(plan_dir),
        runbooks_dir,
        catalogue_dir,
    )
    return assess(paths, now).fired


def check_plan(
    paths: PlanPaths, ignore: frozenset[str] = frozenset(), now: datetime | None = None
) -> tuple[list[str], list[str]]:
    """(reasons that fail the check, reasons ignored on request), each prefixed by its trigger."""
    result = assess(paths, now)
    return result.failing(ignore), result.ignored(ignore)
