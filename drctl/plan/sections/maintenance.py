"""13 Maintenance and review, and the Appendices (contacts, inventory, glossary, standards)."""

from __future__ import annotations

from drctl.plan.context import PlanContext, add_months, iso
from drctl.plan.doc import Code, Section
from drctl.plan.triggers import TRIGGERS, evaluate

# Which clauses of the standards each section of the plan answers. Structural, like the section
# list itself, so it lives with the code that defines the sections.
STANDARDS: list[tuple[str, str, str, str, str]] = [
    (
        "0 Document control",
        "5 (documentation, periodic review)",
        "6 (documentation)",
        "8.4, 7.5 (documented information)",
        "3.5, 4.1 (plan maintenance record)",
    ),
    (
        "1 Policy",
        "5 (ICT DR policy, information security)",
        "6 (IRBC policy)",
        "5.2, 8.4",
        "3.1 (contingency planning policy)",
    ),
    (
        "2 Organisation and people",
        "5 (training and education)",
        "6, 7 (people, competence)",
        "7.2, 8.4.2",
        "3.5, 4.1 (roles and responsibilities)",
    ),
    (
        "3 Facilities and infrastructure",
        "5 (environmental stability, asset management), 6, 8",
        "7 (ICT readiness elements)",
        "8.3",
        "3.4.2 (alternate site)",
    ),
    (
        "4 Risk assessment",
        "5 (environmental stability)",
        "7 (risk assessment)",
        "8.2.3",
        "3.3 (preventive controls)",
    ),
    ("5 Business impact analysis", "5", "7 (BIA)", "8.2.2", "3.2 (business impact analysis)"),
    (
        "6 Recovery priorities",
        "5",
        "7 (prioritisation)",
        "8.2.2, 8.3",
        "3.2.3 (recovery priorities)",
    ),
    (
        "7 Recovery strategies",
        "5 (proximity of site), 6, 8 (selection of recovery sites)",
        "7 (IRBC strategies)",
        "8.3",
        "3.4 (recovery strategies, backup and recovery)",
    ),
    (
        "8 Activation and notification",
        "5 (activation and deactivation)",
        "7 (response)",
        "8.4.3",
        "4.2 (activation and notification)",
    ),
    (
        "9 Recovery procedures",
        "5, 6 (ICT DR facilities)",
        "7 (recovery)",
        "8.4.4",
        "4.3 (recovery)",
    ),
    (
        "10 Failback and reconstitution",
        "5 (activation and deactivation)",
        "7 (restoration)",
        "8.4.5",
        "4.4 (reconstitution)",
    ),
    (
        "11 Performance measurement",
        "9 (continuous improvement)",
        "8 (monitor and review)",
        "9.1",
        "3.6 (test results)",
    ),
    (
        "12 Testing and exercise programme",
        "5 (testing, training)",
        "8 (exercising and testing)",
        "8.5",
        "3.6 (testing, training and exercises)",
    ),
    (
        "13 Maintenance and review",
        "5 (periodic review), 9",
        "9 (improvement)",
        "8.6, 10",
        "3.7 (plan maintenance)",
    ),
    (
        "14 Security controls",
        "5 (information security), 6",
        "7 (security)",
        "8.3, 8.4",
        "3.3, 3.4 (security of backups and sites)",
    ),
    (
        "15 Outsourced services",
        "5 (vendor management, outsourcing), 7 (outsourcer capability)",
        "7 (supplier arrangements)",
        "8.3.3",
        "3.4.3 (equipment and service agreements)",
    ),
    ("A Appendices", "5 (documentation)", "—", "7.5", "4.5 (appendices)"),
]


def maintenance(ctx: PlanContext) -> Section:
    gov = ctx.inputs.governance
    doc = gov.document
    s = Section("13", "Maintenance and review")
    s.p(
        f"Review cycle: every {doc.review_cycle_months} months. Last review: "
        f"{doc.last_review.isoformat()} by {doc.reviewed_by}. Next review due by "
        f"{add_months(doc.last_review, doc.review_cycle_months).isoformat()}."
    )
    s.p(
        "Changes in technology, staff and facilities trigger an update of the plan (source "
        "document, paragraphs 135-136). ",
        Code("drctl plan check"),
        " evaluates every trigger below and fails when one fires or when the committed plan "
        "differs from a fresh render; the monitoring exports each as ",
        Code("drctl_plan_stale{trigger}"),
        ".",
    )
    s.h(f"Update triggers as of {iso(ctx.as_of)}")
    found = evaluate(ctx, ctx.as_of, since_plan=False)
    rows = []
    for name, trigger in TRIGGERS.items():
        fired, waived = found.fired[name], found.waived.get(name, [])
        status = []
        if name == "plan_differs":
            status.append("checked by drctl plan check against a fresh render")
        if fired:
            status.append("FIRES: " + "; ".join(fired))
        if waived:
            status.append("waived: " + "; ".join(waived))
        kind = "since the previous plan" if trigger.since_plan else "state of the estate"
        rows.append((Code(name), trigger.title, kind, " ".join(status) or "does not fire"))
    s.table(["trigger", "meaning", "compares", "status"], rows)
    s.p(
        "Triggers comparing with the previous plan are resolved by rendering the plan again; "
        "what they found is recorded in the change log (section 0)."
    )
    s.h("Waivers")
    s.p(
        "Accepted, time-limited exceptions to a trigger about drill evidence (governance data, ",
        Code("waivers"),
        "). While a waiver is in force the trigger is reported as waived and does not fail ",
        Code("drctl plan check"),
        "; once it expires the trigger fires again.",
    )
    s.table(
        ["id", "trigger", "systems", "reason", "approved by", "granted", "expires"],
        [
            (
                w.id,
                Code(w.trigger),
                ", ".join(w.systems),
                w.reason,
                w.approved_by,
                w.granted.isoformat(),
                w.expires.isoformat(),
            )
            for w in sorted(gov.waivers, key=lambda w: (w.expires, w.id))
        ],
        empty="No waiver is recorded.",
    )
    return s


def appendices(ctx: PlanContext) -> Section:
    gov, topo = ctx.inputs.governance, ctx.inputs.topology
    s = Section("A", "Appendices")
    s.h("A.1 Contact list")
    c = gov.coordinator
    rows = [("DR coordination", c.role, c.name, c.email, c.phone)]
    if c.alternate is not None:
        rows.append(
            (
                "DR coordination",
                f"{c.role} (alternate)",
                c.alternate.name,
                c.alternate.email,
                c.alternate.phone,
            )
        )
    for site in topo.sites:
        team = gov.teams.get(site.name)
        for member in team.members if team else []:
            rows.append((site.team, member.role, member.name, member.email, member.phone))
            if member.alternate is not None:
                a = member.alternate
                rows.append((site.team, f"{member.role} (alternate)", a.name, a.email, a.phone))
    s.table(["team", "role", "name", "email", "phone"], rows)
    s.h("A.2 System inventory")
    s.table(
        [
            "system",
            "title",
            "tier",
            "placement",
            "database",
            "ports (db / Patroni / router)",
            "app port",
        ],
        [
            (
                x.name,
                x.title,
                str(x.tier),
                ", ".join(x.placement),
                x.database.cluster,
                f"{x.database.port} / {x.database.patroni_port} / {x.database.router_port}",
                str(x.app.port) if x.app else "—",
            )
            for x in topo.systems
        ],
    )
    s.h("A.3 Glossary")
    s.table(["term", "definition"], [(t.term, t.definition) for t in gov.glossary])
    s.h("A.4 Mapping to the standards")
    s.table(
        [
            "plan section",
            "ISO/IEC 24762 clauses 5-9",
            "ISO/IEC 27031",
            "ISO 22301",
            "NIST SP 800-34 Rev. 1",
        ],
        STANDARDS,
    )
    return s
