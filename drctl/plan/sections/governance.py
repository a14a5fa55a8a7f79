"""Sections built from the governance data: 1 Policy, 2 Organisation and people, 4 Risk
assessment, 8 Activation and notification, 14 Security controls, 15 Outsourced services."""

from __future__ import annotations

from drctl.plan.context import PlanContext
from drctl.plan.doc import Code, Section
from drctl.plan.sections.fmt import contact, duration, yes


def policy(ctx: PlanContext) -> Section:
    pol = ctx.inputs.governance.policy
    s = Section("1", "Policy")
    s.p(pol.statement)
    s.h("Scope")
    s.p(pol.scope)
    s.h("Worst-case assumption")
    s.p(pol.worst_case_assumption)
    s.h("Objectives")
    s.ul(pol.objectives)
    if pol.principles:
        s.h("Principles")
        s.ul(pol.principles)
    s.h("Standards alignment")
    s.ul(pol.standards)
    s.h("Governance")
    s.p(pol.governance)
    s.h("Programme")
    s.table(
        ["phase", "activities"],
        [(phase.name, "; ".join(phase.activities)) for phase in pol.programme],
    )
    return s


def organisation(ctx: PlanContext) -> Section:
    gov, topo = ctx.inputs.governance, ctx.inputs.topology
    s = Section("2", "Organisation and people")
    c = gov.coordinator
    s.h("DR coordinator")
    s.table(
        ["role", "name", "contact", "alternate"],
        [(c.role, c.name, f"{c.email}, {c.phone}", contact(c.alternate))],
    )
    s.h("Site incident teams")
    s.p(
        "One incident team per site, each with its own site-specific procedures, coordinated "
        "centrally by the DR coordinator. Team names come from the topology; members from the "
        "governance data."
    )
    for site in topo.sites:
        team = gov.teams.get(site.name)
        s.h(f"{site.team} ({site.name}, {site.role})", 4)
        if team is None:
            s.p("No team recorded for this site (an update trigger fires: section 13).")
            continue
        s.table(
            ["role", "name", "contact", "alternate"],
            [(m.role, m.name, f"{m.email}, {m.phone}", contact(m.alternate)) for m in team.members],
        )
        s.p("Escalation: ", " → ".join(team.escalation))
    s.h("Training required")
    s.table(
        ["course", "audience", "every"],
        [(t.course, t.audience, f"{t.every_months} months") for t in gov.training_required],
    )
    return s


def risks(ctx: PlanContext) -> Section:
    s = Section("4", "Risk assessment")
    s.p(
        "The risk register: the threats considered when choosing where to invest in recovery "
        "(source document, paragraph 131), each with likelihood, impact, mitigation and owner."
    )
    order = {"high": 0, "medium": 1, "low": 2}
    rows = sorted(
        ctx.inputs.governance.risks, key=lambda r: (order[r.impact], order[r.likelihood], r.id)
    )
    s.table(
        ["id", "threat", "likelihood", "impact", "mitigation", "owner"],
        [(r.id, r.threat, str(r.likelihood), str(r.impact), r.mitigation, r.owner) for r in rows],
    )
    return s


def activation(ctx: PlanContext) -> Section:
    gov, topo = ctx.inputs.governance, ctx.inputs.topology
    act = gov.activation
    s = Section("8", "Activation and notification")
    s.h("Criteria to declare a disaster")
    s.ul(act.criteria)
    s.p(f"Who decides: {act.decides}. Deputy when unavailable: {act.deputy}.")
    s.h("Notification sequence")
    rows = []
    for i, note in enumerate(act.notification, 1):
        if note.team is not None:
            team = gov.teams.get(note.team)
            lead = team.members[0] if team else None
            who = f"{topo.site(note.team).team}" + (
                f" (lead: {lead.name}, {lead.email})" if lead else ""
            )
        else:
            who = note.who or ""
        within = duration(note.within_minutes * 60) if note.within_minutes else "at once"
        rows.append((str(i), who, note.channel, within))
    s.table(["#", "who", "channel", "within (of the declaration)"], rows)
    s.h("Deactivation")
    s.ul(act.deactivation)
    return s


def security(ctx: PlanContext) -> Section:
    gov = ctx.inputs.governance
    s = Section("14", "Security controls")
    s.table(["area", "control"], [(c.area, c.control) for c in gov.security_controls])
    s.h("Backup repositories: encryption and immutability")
    rows = []
    for b in ctx.inputs.backups.systems:
        for r in b.repositories:
            rows.append(
                (b.system, r.name, r.site or r.provider or "", yes(r.encrypted), yes(r.immutable))
            )
    s.table(["system", "repository", "site / provider", "encrypted", "immutable"], rows)
    return s


def outsourced(ctx: PlanContext) -> Section:
    gov, topo = ctx.inputs.governance, ctx.inputs.topology
    s = Section("15", "Outsourced services")
    s.table(
        ["service", "provider", "responsibilities", "service level"],
        [(o.service, o.provider, o.responsibilities, o.service_level) for o in gov.outsourced],
        empty="No outsourced recovery services.",
    )
    used = sorted(
        {
            (b.system, r.provider, r.name)
            for b in ctx.inputs.backups.systems
            for r in b.repositories
            if r.provider
        }
    )
    if used:
        s.h("Off-site storage held by providers")
        s.table(["system", "provider", "repository"], [tuple(u) for u in used])
    sites = [site for site in topo.sites if site.outsourced]
    s.p(
        "Sites operated by a third party (topology ",
        Code("outsourced: true"),
        "): " + (", ".join(x.name for x in sites) if sites else "none") + ".",
    )
    return s
