"""The plan's update triggers (source document, paragraphs 135-136; PLAN.md section 13).

Each trigger is a small function returning the reasons it fires (empty: not firing). Names are
stable: they are the `trigger` label of `drctl_plan_stale{trigger}`, and `--ignore-trigger`
takes them. Never rename one; add new ones at the end.

Some triggers compare with the previous plan's manifest (a change since the plan was written):
they resolve when the plan is rendered again, which records the change in the change log. The
others describe the estate's state and resolve only when the estate or the data changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from drctl.plan.context import PlanContext, at_midnight
from drctl.plan.manifest import platform_snapshot, team_snapshot
from drctl.topology.model import Replication


@dataclass(frozen=True)
class Trigger:
    name: str
    title: str
    since_plan: bool  # compares with the previous plan; rendering resolves it
    check: Callable[[PlanContext, datetime], list[str]]


def _unclassified(ctx: PlanContext, now: datetime) -> list[str]:
    return [
        f"system {s.name!r} has no classification in the BIA (data/bia.yaml)"
        for s in ctx.inputs.topology.systems
        if ctx.bia(s.name) is None
    ]


def _new_mission_critical(ctx: PlanContext, now: datetime) -> list[str]:
    if ctx.previous is None:
        return []
    known = set(ctx.previous.mission_critical)
    return [
        f"{name!r} is classified mission-critical and is not in the plan yet"
        for name in ctx.mission_critical()
        if name not in known
    ]


def _new_platform(ctx: PlanContext, now: datetime) -> list[str]:
    if ctx.previous is None:
        return []
    before, after = ctx.previous.platform, platform_snapshot(ctx.inputs.topology)
    out = [f"new site {s!r}" for s in after if s not in before]
    out += [f"site {s!r} removed" for s in before if s not in after]
    for site in sorted(set(before) & set(after)):
        added = sorted(set(after[site]) - set(before[site]))
        removed = sorted(set(before[site]) - set(after[site]))
        out += [f"site {site!r}: new {x}" for x in added]
        out += [f"site {site!r}: no longer runs {x}" for x in removed]
    return out


def _organisation(ctx: PlanContext, now: datetime) -> list[str]:
    gov, topo = ctx.inputs.governance, ctx.inputs.topology
    out = [f"site {s.name!r} has no incident team" for s in topo.sites if s.name not in gov.teams]
    for site, team in sorted(gov.teams.items()):
        out += [
            f"{site} team: {m.role} ({m.name}) has no alternate"
            for m in team.members
            if m.alternate is None
        ]
    if gov.coordinator.alternate is None:
        out.append("the DR coordinator has no alternate")
    if ctx.previous is not None:
        before, after = ctx.previous.teams, team_snapshot(gov)
        for site in sorted(set(before) | set(after)):
            old = {m["role"]: m for m in before.get(site, [])}
            new = {m["role"]: m for m in after.get(site, [])}
            for role in sorted(set(old) | set(new)):
                if role not in old:
                    out.append(f"{site} team: new role {role!r}")
                elif role not in new:
                    out.append(f"{site} team: role {role!r} removed")
                elif old[role] != new[role]:
                    fields = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
                    out.append(f"{site} team: {role} changed ({', '.join(fields)})")
    return out


def _drill_overdue(ctx: PlanContext, now: datetime) -> list[str]:
    out = []
    for system in ctx.inputs.topology.systems:
        every = ctx.inputs.topology.tier(system.tier).drill_every_days
        last = ctx.last_successful(system.name)
        if last is None:
            out.append(
                f"{system.name} (tier {system.tier}): no successful drill on record "
                f"(required every {every} days)"
            )
        elif now - last.when > timedelta(days=every):
            out.append(
                f"{system.name} (tier {system.tier}): last successful drill "
                f"{last.when.date().isoformat()}, more than {every} days ago"
            )
    return out


def _objective_missed(ctx: PlanContext, now: datetime) -> list[str]:
    out = []
    for system in ctx.inputs.topology.systems:
        last = ctx.last(system.name)
        if last is None:
            continue
        r, day = last.result, last.when.date().isoformat()
        if not r.rto_met:
            out.append(
                f"{system.name}: RTO {_fmt(r.rto_seconds)} s against an objective of "
                f"{system.objectives.rto_seconds:g} s in drill {last.journal.run_id} ({day})"
            )
        if not r.rpo_met:
            out.append(
                f"{system.name}: RPO {_fmt(r.rpo_seconds)} s, {r.writes_lost} writes lost, "
                f"against an objective of {system.objectives.rpo_seconds:g} s in drill "
                f"{last.journal.run_id} ({day})"
            )
    return out


def _topology_changed(ctx: PlanContext, now: datetime) -> list[str]:
    return [
        f"{name}: its topology changed after its last drill ({ref.run_id}); drill it again"
        for name, ref in sorted(ctx.drill_refs.items())
        if ref.fingerprint != ctx.fingerprints[name]
    ]


def _rto_above_mtd(ctx: PlanContext, now: datetime) -> list[str]:
    out = []
    for system in ctx.inputs.topology.systems:
        entry = ctx.bia(system.name)
        if entry is None:
            continue
        rto = system.objectives.rto_seconds
        if rto + entry.wrt_seconds > entry.mtd_seconds:
            out.append(
                f"{system.name}: RTO {rto:g} s + work-recovery {entry.wrt_seconds:g} s exceeds "
                f"the maximum tolerable downtime of {entry.mtd_seconds:g} s"
            )
    return out


def _backup_interval(ctx: PlanContext, now: datetime) -> list[str]:
    out = []
    for system in ctx.inputs.topology.systems:
        backup = ctx.inputs.backups.of(system.name)
        rpo = system.objectives.rpo_seconds
        if backup is None:
            out.append(f"{system.name}: no backup configured (data/backups.yaml)")
        elif rpo == 0 and system.replication is not Replication.SYNCHRONOUS:
            out.append(
                f"{system.name}: RPO 0 needs synchronous replication; backups cannot meet it"
            )
        elif rpo > 0 and backup.best_interval_seconds > rpo:
            out.append(
                f"{system.name}: most frequent backup every {backup.best_interval_seconds:g} s "
                f"exceeds the RPO objective of {rpo:g} s"
            )
        if backup is not None and not any(r.off_site for r in backup.repositories):
            out.append(f"{system.name}: no off-site backup repository")
    return out


def _action_past_due(ctx: PlanContext, now: datetime) -> list[str]:
    out = [
        f"{a.id} ({a.owner}) was due {a.due.isoformat()}: {a.description}"
        for a in ctx.inputs.governance.corrective_actions
        if a.status == "open" and at_midnight(a.due) < now
    ]
    for item in ctx.inputs.journals:
        for a in item.value.corrective_actions:
            if a.status != "done" and a.due < now.date().isoformat():
                out.append(f"{a.id} ({a.owner}, drill {item.value.run_id}) was due {a.due}")
    return out


def _review_overdue(ctx: PlanContext, now: datetime) -> list[str]:
    doc = ctx.inputs.governance.document
    last = doc.last_review
    months = (now.year - last.year) * 12 + now.month - last.month - (now.day < last.day)
    if months >= doc.review_cycle_months:
        return [f"last review {last.isoformat()} is older than {doc.review_cycle_months} months"]
    return []


def _plan_out_of_date(ctx: PlanContext, now: datetime) -> list[str]:
    return []  # decided by comparing with a fresh render: see drctl.plan.check


def _fmt(value: float | None) -> str:
    return "not measured" if value is None else f"{value:g}"


TRIGGERS: dict[str, Trigger] = {
    t.name: t
    for t in [
        Trigger(
            "plan-out-of-date",
            "committed plan differs from a fresh render",
            True,
            _plan_out_of_date,
        ),
        Trigger(
            "unclassified-system", "a system without a BIA classification", False, _unclassified
        ),
        Trigger(
            "new-mission-critical-system",
            "new mission-critical system",
            True,
            _new_mission_critical,
        ),
        Trigger("new-platform", "new server or storage platform at a site", True, _new_platform),
        Trigger(
            "organisational-change",
            "team member or contact changed, or no alternate",
            True,
            _organisation,
        ),
        Trigger(
            "drill-overdue", "no successful drill within the tier's period", False, _drill_overdue
        ),
        Trigger(
            "objective-missed",
            "last drill missed its RTO or RPO objective",
            False,
            _objective_missed,
        ),
        Trigger(
            "topology-changed-since-drill",
            "topology changed after the last drill",
            False,
            _topology_changed,
        ),
        Trigger(
            "rto-above-mtd", "RTO plus work-recovery time above the MTD", False, _rto_above_mtd
        ),
        Trigger(
            "backup-interval-above-rpo",
            "backup interval above the RPO, or no off-site copy",
            False,
            _backup_interval,
        ),
        Trigger(
            "corrective-action-past-due",
            "corrective action past its due date",
            False,
            _action_past_due,
        ),
        Trigger(
            "review-overdue", "last review older than the review cycle", False, _review_overdue
        ),
    ]
}


def evaluate(ctx: PlanContext, now: datetime, *, since_plan: bool = True) -> dict[str, list[str]]:
    """Every trigger name mapped to its reasons; with since_plan=False, the triggers that compare
    with the previous plan report only their state part (used inside the rendered plan)."""
    state_only = replace(ctx, previous=None)
    return {
        name: trigger.check(ctx if since_plan or not trigger.since_plan else state_only, now)
        for name, trigger in TRIGGERS.items()
    }
