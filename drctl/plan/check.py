"""`drctl plan check` and `staleness()`: is the committed plan current, and does an update
trigger fire? The monitoring exporter imports `staleness` for `drctl_plan_stale{trigger}`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from drctl.errors import ConfigError
from drctl.plan.context import PlanContext
from drctl.plan.load import PlanPaths, load_inputs
from drctl.plan.manifest import Manifest, read_manifest
from drctl.plan.render import HTML_NAME, MD_NAME, render_context
from drctl.plan.triggers import evaluate


def _out_of_date(ctx: PlanContext, plan_dir: Path) -> list[str]:
    md, html = plan_dir / MD_NAME, plan_dir / HTML_NAME
    if ctx.previous is None:
        return [f"no plan at {md}: run `drctl plan render`"]
    fresh = render_context(ctx)
    reasons = []
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
        reasons.append(
            f"{md} (version {ctx.previous.version}) is out of date — "
            + ("; ".join(what) or "the manifest differs")
            + f": run `drctl plan render` (gives version {c.version})"
        )
    elif md.read_text(encoding="utf-8") != fresh.markdown:
        reasons.append(
            f"{md} differs from a fresh render (edited by hand, or the renderer changed)"
        )
    if fresh.change is None and (
        not html.is_file() or html.read_text(encoding="utf-8") != fresh.html
    ):
        reasons.append(f"{html} is missing or differs from a fresh render")
    return reasons


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
        topology_path, data_dir, journals_dir, plan_dir, runbooks_dir, catalogue_dir
    )
    inputs = load_inputs(paths)
    unreadable: list[str] = []
    previous: Manifest | None
    try:
        previous = read_manifest(plan_dir / MD_NAME)
    except ConfigError as exc:
        previous, unreadable = None, [str(exc)]
    ctx = PlanContext.build(inputs, previous)
    reasons = evaluate(ctx, now or datetime.now(UTC))
    reasons["plan-out-of-date"] = unreadable or _out_of_date(ctx, plan_dir)
    return reasons


def check_plan(
    paths: PlanPaths, ignore: frozenset[str] = frozenset(), now: datetime | None = None
) -> tuple[list[str], list[str]]:
    """(reasons that fail the check, reasons ignored on request), each prefixed by its trigger."""
    found = staleness(
        paths.topology,
        paths.data,
        paths.journals,
        paths.plan,
        runbooks_dir=paths.runbooks,
        catalogue_dir=paths.catalogue,
        now=now,
    )
    failing = [f"{name}: {r}" for name, rs in found.items() if name not in ignore for r in rs]
    ignored = [f"{name}: {r}" for name, rs in found.items() if name in ignore for r in rs]
    return failing, ignored
