"""Sections built from the drill journals: 11 Performance measurement, 12 Testing and exercise
programme. Every figure links to the journal it comes from (and its HTML report)."""

from __future__ import annotations

from datetime import timedelta

from drctl.plan.context import Drilled, PlanContext
from drctl.plan.doc import Cell, Code, Link, Section
from drctl.plan.sections.fmt import duration
from drctl.topology.model import Replication

RECENT_DRILLS = 20  # journals listed in section 12; older ones stay in the journal directory


def _met(flag: bool) -> str:
    return "met" if flag else "MISSED"


def evidence(ctx: PlanContext, d: Drilled) -> Cell:
    parts: list[Link | str] = [Link(d.item.path.name, ctx.rel(d.item.path))]
    report = ctx.report_link(d.item)
    if report:
        parts += [", ", Link("report", report)]
    return tuple(parts)


def performance(ctx: PlanContext) -> Section:
    topo = ctx.inputs.topology
    s = Section("11", "Performance measurement")
    s.p(
        "Objectives against the figures measured in the latest drill of each system (RTO from "
        "fault injection to the first user transaction after which none fails for 5 s; RPO from "
        "acknowledged writes missing after recovery)."
    )
    rows: list[tuple[Cell, ...]] = []
    for system in topo.systems:
        o = system.objectives
        last = ctx.last(system.name)
        if last is None:
            rows.append(
                (
                    system.name,
                    duration(o.rto_seconds),
                    "not drilled",
                    "—",
                    duration(o.rpo_seconds),
                    "not drilled",
                    "—",
                    "—",
                    "—",
                )
            )
            continue
        r = last.result
        rows.append(
            (
                system.name,
                duration(o.rto_seconds),
                duration(r.rto_seconds),
                _met(r.rto_met),
                duration(o.rpo_seconds),
                f"{duration(r.rpo_seconds)} ({r.writes_lost} lost)",
                _met(r.rpo_met),
                last.when.date().isoformat(),
                evidence(ctx, last),
            )
        )
    s.table(
        [
            "system",
            "RTO objective",
            "RTO measured",
            "RTO",
            "RPO objective",
            "RPO measured",
            "RPO",
            "drill date",
            "evidence",
        ],
        rows,
    )
    _restores(s, ctx)
    s.h("Trend over drills")
    trend = []
    for system in topo.systems:
        runs = [d for d in ctx.history[system.name] if d.measured][-5:]
        if runs:
            trend.append(
                (
                    system.name,
                    " → ".join(duration(d.result.rto_seconds) for d in runs),
                    " → ".join(duration(d.result.rpo_seconds) for d in runs),
                )
            )
    s.table(["system", "RTO, last drills (oldest first)", "RPO"], trend, empty="No drill yet.")
    s.h("Readiness")
    s.p(
        "Live readiness is measured, not rendered (the plan must not change with the clock): "
        "the monitoring exports replication lag as ",
        Code("drctl_replication_lag_seconds{system,member}"),
        " and the last successful backup as ",
        Code("drctl_backup_last_success_timestamp_seconds{system}"),
        ". The thresholds that keep each system ready, from its objectives and backup schedule:",
    )
    rows = []
    for system in topo.systems:
        b = ctx.inputs.backups.of(system.name)
        sync = system.replication is Replication.SYNCHRONOUS
        rows.append(
            (
                system.name,
                str(system.replication),
                "0 s (synchronous standby)" if sync else duration(system.objectives.rpo_seconds),
                duration(b.best_interval_seconds) if b else "no backup",
                duration(max(x.every_seconds for x in b.schedules)) if b else "—",
            )
        )
    s.table(
        [
            "system",
            "replication",
            "largest acceptable lag",
            "backup age limit (most frequent)",
            "full cycle",
        ],
        rows,
    )
    unproven = [x.name for x in topo.systems if ctx.last_successful(x.name) is None]
    if unproven:
        s.p(
            "Not yet proven by a successful drill: "
            + ", ".join(unproven)
            + " (section 13: drill_overdue and any waiver)."
        )
    return s


def _restores(s: Section, ctx: PlanContext) -> None:
    """Restore drills (corruption, loss of every replica) against backups.yaml's objectives:
    RPO is the time from the last recovered transaction to the fault, plus the acknowledged
    writes before the restore target that did not come back."""
    s.h("Restore from backup")
    rows: list[tuple[Cell, ...]] = []
    for system in ctx.inputs.topology.systems:
        b = ctx.inputs.backups.of(system.name)
        o = b.restore_objectives if b else None
        latest: dict[str, Drilled] = {}  # per restore drill: its last measured run
        for d in ctx.restores.get(system.name, []):
            if d.measured:
                latest[d.journal.drill_id] = d
        if not latest and o is not None:
            rto, rpo = duration(o.rto_seconds), duration(o.rpo_seconds)
            rows.append((system.name, rto, "not drilled", "—", rpo, "not drilled") + ("—",) * 4)
        for _, last in sorted(latest.items()):
            r = last.result
            if r.restore_target is None:
                restored = f"every archived WAL segment ({last.journal.drill_id})"
            else:
                restored = (
                    f"just before the fault ({last.journal.drill_id}); "
                    f"{r.writes_discarded} later writes rolled back"
                )
            rows.append(
                (
                    system.name,
                    duration(r.objective_rto_seconds),
                    duration(r.rto_seconds),
                    _met(r.rto_met),
                    duration(r.objective_rpo_seconds),
                    f"{duration(r.rpo_seconds)} ({r.writes_lost} lost)",
                    _met(r.rpo_met),
                    restored,
                    last.when.date().isoformat(),
                    evidence(ctx, last),
                )
            )
    s.table(
        [
            "system",
            "RTO objective",
            "RTO measured",
            "RTO",
            "RPO objective",
            "RPO measured",
            "RPO",
            "restored to",
            "drill date",
            "evidence",
        ],
        rows,
        empty="No restore objective or restore drill yet (inventories/backups.yaml).",
    )


def _catalogue(s: Section, ctx: PlanContext) -> None:
    s.h("Drill catalogue")
    s.table(
        ["drill", "kind", "mode", "target", "systems", "file"],
        [
            (
                d.value.title,
                d.value.kind,
                d.value.mode,
                d.value.target,
                ", ".join(d.value.systems),
                Code(d.key),
            )
            for d in ctx.inputs.catalogue
        ],
        empty="The drill catalogue (drills/catalogue/) is empty.",
    )
    s.h("Frequency per tier")
    rows = []
    for tier in ctx.inputs.topology.tiers:
        for system in [x for x in ctx.inputs.topology.systems if x.tier == tier.level]:
            last = ctx.last_successful(system.name)
            due_day = (last.when + timedelta(days=tier.drill_every_days)).date() if last else None
            due = due_day.isoformat() if due_day else "now"
            waivers = [
                w
                for w in ctx.inputs.governance.waivers
                if w.trigger == "drill_overdue"
                and system.name in w.systems
                and (due_day is None or w.expires > due_day)
            ]
            if waivers:
                w = max(waivers, key=lambda x: (x.expires, x.id))
                due += f" (waiver {w.id} until {w.expires.isoformat()})"
            rows.append(
                (
                    f"{tier.level} ({tier.name})",
                    f"every {tier.drill_every_days} days",
                    system.name,
                    last.when.date().isoformat() if last else "never",
                    due,
                )
            )
    s.table(["tier", "frequency", "system", "last successful drill", "next due"], rows)


def testing(ctx: PlanContext) -> Section:
    s = Section("12", "Testing and exercise programme")
    _catalogue(s, ctx)
    s.h("Results of recent drills")
    rows: list[tuple[Cell, ...]] = []
    recent = list(reversed(ctx.inputs.journals))[:RECENT_DRILLS]
    for item in recent:
        j = item.value
        for name, r in sorted(j.systems.items()):
            d = Drilled(item, r)
            rows.append(
                (
                    d.when.date().isoformat(),
                    j.drill_id,
                    str(j.drill.get("kind", "—")),
                    j.mode,
                    str(j.drill.get("title", "—")),
                    name,
                    f"{duration(r.objective_rto_seconds)} / {duration(r.rto_seconds)}",
                    f"{duration(r.objective_rpo_seconds)} / {duration(r.rpo_seconds)}",
                    str(r.writes_lost),
                    j.result or str(j.status),
                    "; ".join(j.reasons) or "—",
                    evidence(ctx, d),
                )
            )
    s.table(
        [
            "date",
            "drill",
            "kind",
            "mode",
            "scenario",
            "system",
            "RTO target / measured",
            "RPO target / measured",
            "writes lost",
            "outcome",
            "issues found",
            "evidence",
        ],
        rows,
        empty="No drill has been run yet: every system's drill is due (section 13).",
    )
    s.h("Corrective actions")
    actions: list[tuple[Cell, ...]] = [
        (a.id, a.description, a.owner, a.due.isoformat(), a.status, "governance data")
        for a in ctx.inputs.governance.corrective_actions
    ]
    for item in ctx.inputs.journals:
        for a in item.value.corrective_actions:
            actions.append(
                (
                    a.id,
                    a.description,
                    a.owner,
                    a.due,
                    a.status,
                    Link(f"drill {item.value.run_id}", ctx.rel(item.path)),
                )
            )
    s.table(["id", "action", "owner", "due", "status", "source"], actions, empty="None.")
    s.h("Training records")
    s.table(
        ["person", "course", "completed"],
        [
            (r.person, r.course, r.completed.isoformat())
            for r in sorted(
                ctx.inputs.governance.training_records, key=lambda r: (r.completed, r.person)
            )
        ],
        empty="No training recorded.",
    )
    return s
