"""The plan's update triggers (source document, paragraphs 135-136; PLAN.md section 13).

Each trigger is a small function returning what it finds (empty: not firing). Names are stable,
short snake_case: they are the `trigger` label of `drctl_plan_stale{trigger}`, and
`--ignore-trigger` takes them. Never rename one; add new ones at the end.

Some triggers compare with the previous plan's manifest (a change since the plan was written):
they resolve when the plan is rendered again, which records the change in the change log. The
others describe the estate's state and resolve only when the estate or the data changes; those
about drill evidence may be suspended for named systems by a waiver in the governance data,
until it expires (e.g. the grace period of a new system before its first drill).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from drctl.plan.context import PlanContext, add_months, at_midnight
from drctl.plan.data import WAIVABLE
from drctl.plan.manifest import platform_snapshot, team_snapshot
from drctl.topology.model import Replication


@dataclass(frozen=True)
class Finding:
    """One reason a trigger fires; `system` lets a waiver for that system suspend it."""

    text: str
    system: str | None = None


@dataclass(frozen=True)
class Trigger:
    name: str
    title: str
    since_plan: bool  # compares with the previous plan; rendering resolves it
    check: Callable[[PlanContext, datetime], list[Finding]]


@dataclass
class Evaluation:
    fired: dict[str, list[str]]  # every trigger name -> the reasons it fires (empty: it does not)
    waived: dict[str, list[str]] = field(default_factory=dict)  # suspended by an active waiver


def _unclassified(ctx: PlanContext, now: datetime) -> list[Finding]:
    return [
        Finding(f"system {s.name!r} has no classification in the BIA (bia.yaml)", s.name)
        for s in ctx.inputs.topology.systems
        if ctx.bia(s.name) is None
    ]


def _new_mission_critical(ctx: PlanContext, now: datetime) -> list[Finding]:
    if ctx.previous is None:
        return []
    known = set(ctx.previous.mission_critical)
    return [
        Finding(f"{name!r} is classified mission-critical and is not in the plan yet", name)
        for name in ctx.mission_critical()
        if name not in known
    ]


def _new_platform(ctx: PlanContext, now: datetime) -> list[Finding]:
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
    return [Finding(text) for text in out]


def _by_role(members: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """Members keyed by role; a role held by several people is numbered ("Engineer #2")."""
    out: dict[str, dict[str, str]] = {}
    for m in members:
        key, n = m["role"], 1
        while key in out:
            n += 1
            key = f"{m['role']} #{n}"
        out[key] = m
    return out


def _site_team(ctx: PlanContext, now: datetime) -> list[Finding]:
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
            old, new = _by_role(before.get(site, [])), _by_role(after.get(site, []))
            for role in sorted(set(old) | set(new)):
                if role not in old:
                    out.append(f"{site} team: new role {role!r}")
                elif role not in new:
                    out.append(f"{site} team: role {role!r} removed")
                elif old[role] != new[role]:
                    a, b = old[role], new[role]
                    fields = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
                    out.append(f"{site} team: {role} changed ({', '.join(fields)})")
    return [Finding(text) for text in out]


def _drill_overdue(ctx: PlanContext, now: datetime) -> list[Finding]:
    out = []
    for system in ctx.inputs.topology.systems:
        every = ctx.inputs.topology.tier(system.tier).drill_every_days
        last = ctx.last_successful(system.name)
        if last is None:
            text = (
                f"{system.name} (tier {system.tier}): no successful drill on record "
                f"(required every {every} days)"
            )
        elif now - last.when > timedelta(days=every):
            text = (
                f"{system.name} (tier {system.tier}): last successful drill "
                f"{last.when.date().isoformat()}, more than {every} days ago"
            )
        else:
            continue
        out.append(Finding(text, system.name))
    return out


def _objective_missed(ctx: PlanContext, now: datetime) -> list[Finding]:
    out = []
    for system in ctx.inputs.topology.systems:
        last = ctx.last(system.name)
        if last is None:
            continue
        r, day = last.result, last.when.date().isoformat()
        if not r.rto_met:
            out.append(
                Finding(
                    f"{system.name}: RTO {_fmt(r.rto_seconds)} s against an objective of "
                    f"{r.objective_rto_seconds:g} s in drill {last.journal.run_id} ({day})",
                    system.name,
                )
            )
        if not r.rpo_met:
            out.append(
                Finding(
                    f"{system.name}: RPO {_fmt(r.rpo_seconds)} s, {r.writes_lost} writes lost, "
                    f"against an objective of {r.objective_rpo_seconds:g} s in drill "
                    f"{last.journal.run_id} ({day})",
                    system.name,
                )
            )
    return out


def _topology_changed(ctx: PlanContext, now: datetime) -> list[Finding]:
    return [
        Finding(
            f"{name}: its topology changed after its last drill ({ref.run_id}); drill it again",
            name,
        )
        for name, ref in sorted(ctx.drill_refs.items())
        if ref.fingerprint != ctx.fingerprints[name]
    ]


def _rto_above_mtd(ctx: PlanContext, now: datetime) -> list[Finding]:
    out = []
    for system in ctx.inputs.topology.systems:
        entry = ctx.bia(system.name)
        if entry is None:
            continue
        rto = system.objectives.rto_seconds
        if rto + entry.wrt_seconds > entry.mtd_seconds:
            out.append(
                Finding(
                    f"{system.name}: RTO {rto:g} s + work-recovery {entry.wrt_seconds:g} s "
                    f"exceeds the maximum tolerable downtime of {entry.mtd_seconds:g} s",
                    system.name,
                )
            )
    return out


def _backup_interval(ctx: PlanContext, now: datetime) -> list[Finding]:
    out = []
    for system in ctx.inputs.topology.systems:
        backup = ctx.inputs.backups.of(system.name)
        rpo = system.objectives.rpo_seconds
        if backup is None:
            out.append(Finding(f"{system.name}: no backup configured (backups.yaml)", system.name))
        elif rpo == 0 and system.replication is not Replication.SYNCHRONOUS:
            out.append(
                Finding(
                    f"{system.name}: RPO 0 needs synchronous replication; backups cannot meet it",
                    system.name,
                )
            )
        elif rpo > 0 and backup.best_interval_seconds > rpo:
            out.append(
                Finding(
                    f"{system.name}: most frequent backup every "
                    f"{backup.best_interval_seconds:g} s exceeds the RPO objective of {rpo:g} s",
                    system.name,
                )
            )
        if backup is not None and not any(r.off_site for r in backup.repositories):
            out.append(Finding(f"{system.name}: no off-site backup repository", system.name))
    return out


def _action_past_due(ctx: PlanContext, now: datetime) -> list[Finding]:
    out = [
        Finding(f"{a.id} ({a.owner}) was due {a.due.isoformat()}: {a.description}")
        for a in ctx.inputs.governance.corrective_actions
        if a.status == "open" and at_midnight(a.due) + timedelta(days=1) <= now
    ]
    today = now.date().isoformat()
    for item in ctx.inputs.journals:
        for a in item.value.corrective_actions:
            if a.status != "done" and a.due < today:
                out.append(
                    Finding(f"{a.id} ({a.owner}, drill {item.value.run_id}) was due {a.due}")
                )
    return out


def _review_overdue(ctx: PlanContext, now: datetime) -> list[Finding]:
    doc = ctx.inputs.governance.document
    due = add_months(doc.last_review, doc.review_cycle_months)
    if now.date() > due:
        return [
            Finding(
                f"last review {doc.last_review.isoformat()} is older than "
                f"{doc.review_cycle_months} months (next review was due by {due.isoformat()})"
            )
        ]
    return []


def _plan_differs(ctx: PlanContext, now: datetime) -> list[Finding]:
    return []  # decided by comparing with a fresh render: see drctl.plan.check


def _fmt(value: float | None) -> str:
    return "not measured" if value is None else f"{value:g}"


TRIGGERS: dict[str, Trigger] = {
    t.name: t
    for t in [
        Trigger(
            "plan_differs",
            "the committed plan differs from a fresh render",
            True,
            _plan_differs,
        ),
        Trigger(
            "unclassified_system", "a system without a BIA classification", False, _unclassified
        ),
        Trigger(
            "new_mission_critical_system",
            "new mission-critical system",
            True,
            _new_mission_critical,
        ),
        Trigger("new_platform", "new server or storage platform at a site", True, _new_platform),
        Trigger(
            "site_team_changed",
            "organisational change: team member or contact changed, or no alternate",
            True,
            _site_team,
        ),
        Trigger(
            "drill_overdue", "no successful drill within the tier's period", False, _drill_overdue
        ),
        Trigger(
            "drill_missed_objective",
            "the last drill missed its RTO or RPO objective",
            False,
            _objective_missed,
        ),
        Trigger(
            "topology_changed_since_drill",
            "topology changed after the last drill",
            False,
            _topology_changed,
        ),
        Trigger(
            "rto_above_mtd", "RTO plus work-recovery time above the MTD", False, _rto_above_mtd
        ),
        Trigger(
            "backup_interval_above_rpo",
            "backup interval above the RPO, or no off-site copy",
            False,
            _backup_interval,
        ),
        Trigger(
            "corrective_action_past_due",
            "corrective action past its due date",
            False,
            _action_past_due,
        ),
        Trigger(
            "review_overdue", "last review older than the review cycle", False, _review_overdue
        ),
    ]
}
assert set(WAIVABLE) <= set(TRIGGERS)


def _apply_waivers(ctx: PlanContext, name: str, found: list[Finding], now: datetime) -> Evaluation:
    if name not in WAIVABLE:
        return Evaluation({name: [f.text for f in found]}, {name: []})
    fired: list[str] = []
    waived: list[str] = []
    waivers = [w for w in ctx.inputs.governance.waivers if w.trigger == name]
    for f in found:
        mine = [w for w in waivers if f.system in w.systems]
        active = [w for w in mine if w.active(now.date())]
        expired = [w for w in mine if w.expires < now.date()]
        if active:
            w = max(active, key=lambda x: (x.expires, x.id))
            waived.append(f"{f.text} (waiver {w.id} until {w.expires.isoformat()})")
        elif expired:
            w = max(expired, key=lambda x: (x.expires, x.id))
            fired.append(f"{f.text} (waiver {w.id} expired {w.expires.isoformat()})")
        else:
            fired.append(f.text)
    return Evaluation({name: fired}, {name: waived})


def evaluate(ctx: PlanContext, now: datetime, *, since_plan: bool = True) -> Evaluation:
    """Every trigger evaluated at `now`; with since_plan=False the triggers comparing with the
    previous plan report only their state part (used inside the rendered plan)."""
    state_only = replace(ctx, previous=None)
    out = Evaluation({}, {})
    for name, trigger in TRIGGERS.items():
        found = trigger.check(ctx if since_plan or not trigger.since_plan else state_only, now)
        one = _apply_waivers(ctx, name, found, now)
        out.fired |= one.fired
        out.waived |= one.waived
    return out
