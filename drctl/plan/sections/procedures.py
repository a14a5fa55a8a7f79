"""Sections built from the runbooks: 9 Recovery procedures, 10 Failback and reconstitution.

A runbook is written once with placeholders ({site}, {survivor}, {system}); the plan expands it
per lost site and surviving site, with per-system steps repeated for each system in recovery
order, so each site team reads exactly the steps it will run.
"""

from __future__ import annotations

from collections import defaultdict
from string import Formatter
from typing import Any

from drctl.plan.context import PlanContext
from drctl.plan.doc import Cell, Code, Section
from drctl.plan.load import Loaded
from drctl.plan.sections.fmt import duration
from drctl.topology.model import System
from drills.model import Runbook, Step

_FORMATTER = Formatter()


class _Values(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(text: str, values: dict[str, str]) -> str:
    return _FORMATTER.vformat(text, (), _Values(values))


def _ordered_systems(ctx: PlanContext) -> list[System]:
    return [s for wave in ctx.inputs.topology.recovery_waves() for s in wave]


def scenarios(ctx: PlanContext, kind: str) -> dict[tuple[str, str], list[System]]:
    """(site, survivor) → systems, in recovery order. Recovery: every site a system is placed at
    may be lost while it is the primary, the next placement survives. Failback: the preferred
    primary is returned to from the second placement."""
    out: dict[tuple[str, str], list[System]] = defaultdict(list)
    for system in _ordered_systems(ctx):
        p = system.placement
        if len(p) < 2:
            continue
        pairs = (
            [(p[0], p[1])]
            if kind == "failback"
            else [(site, p[(i + 1) % len(p)]) for i, site in enumerate(p)]
        )
        for pair in pairs:
            out[pair].append(system)
    index = {site.name: i for i, site in enumerate(ctx.inputs.topology.sites)}
    return dict(sorted(out.items(), key=lambda kv: (index[kv[0][0]], index[kv[0][1]])))


def _step_rows(step: Step, values: dict[str, str], systems: list[System]) -> list[tuple[Cell, ...]]:
    how: Cell = "manual" if step.manual else ("automated: ", Code(step.action or ""))
    targets: list[System | None] = list(systems) if step.per_system else [None]
    rows: list[tuple[Cell, ...]] = []
    for system in targets:
        vals = values | ({"system": system.name} if system else {})
        text = fill(step.name, vals)
        if step.manual and step.instructions:
            text += " — " + fill(step.instructions.strip(), vals)
        rows.append(
            (
                text,
                how,
                fill(step.owner, vals),
                duration(step.timeout_seconds),
                duration(step.expected_seconds),
            )
        )
    return rows


def _procedure(
    s: Section,
    ctx: PlanContext,
    rb: Loaded[Runbook],
    site: str,
    survivor: str,
    systems: list[System],
) -> None:
    values = {"site": site, "survivor": survivor, "system": ", ".join(x.name for x in systems)}
    rows: list[tuple[Cell, ...]] = []
    expected = timeouts = 0.0
    for step in rb.value.steps:
        n = len(systems) if step.per_system else 1
        expected += step.expected_seconds * n
        timeouts += step.timeout_seconds * n
        rows += _step_rows(step, values, systems)
    route = (
        f"{survivor} → {site}"
        if rb.value.kind == "failback"
        else f"{site} lost, {survivor} takes over"
    )
    s.h(f"{rb.value.title}: {route}", 4)
    s.p(f"Systems, in recovery order: {values['system']}. Runbook ", Code(rb.key), ".")
    s.table(
        ["#", "step", "automated or manual", "owner", "timeout", "expected"],
        [(str(i), *row) for i, row in enumerate(rows, 1)],
    )
    rto = min(x.objectives.rto_seconds for x in systems)
    verdict = "within" if expected <= rto else "ABOVE"
    s.p(
        f"Expected duration, steps in order: {duration(expected)} ({verdict} the smallest RTO "
        f"objective of these systems, {duration(rto)}); worst case, every step to its timeout: "
        f"{duration(timeouts)}."
    )


def _runbook_sections(s: Section, ctx: PlanContext, kind: str) -> None:
    books = [rb for rb in ctx.inputs.runbooks if rb.value.kind == kind]
    if not books:
        s.p(f"No {kind} runbook exists yet.")
        return
    pairs = scenarios(ctx, kind)
    for rb in books:
        s.h(rb.value.title)
        s.p(" ".join(rb.value.description.split()))
        for (site, survivor), systems in pairs.items():
            _procedure(s, ctx, rb, site, survivor, systems)
    single = [x.name for x in ctx.inputs.topology.systems if len(x.placement) < 2]
    if single:
        s.p("Placed at one site only, restored from backup (section 7): " + ", ".join(single) + ".")


def recovery(ctx: PlanContext) -> Section:
    s = Section("9", "Recovery procedures")
    s.p(
        "Per runbook and per lost site, the steps in order. Automated steps are run by ",
        Code("drctl"),
        "; manual steps are confirmed by their owner. Activation comes first (section 8).",
    )
    _runbook_sections(s, ctx, "recovery")
    return s


def failback(ctx: PlanContext) -> Section:
    s = Section("10", "Failback and reconstitution")
    s.p(
        "Return to the primary data centre once it is healthy: restore it, re-protect (the "
        "returning members rejoin as synchronous replicas), switch over in a planned way, verify."
    )
    _runbook_sections(s, ctx, "failback")
    s.h("Deactivation")
    s.ul(ctx.inputs.governance.activation.deactivation)
    return s
