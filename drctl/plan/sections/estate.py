"""Sections built from the topology, the BIA and the backup data: 3 Facilities and
infrastructure, 5 Business impact analysis, 6 Recovery priorities, 7 Recovery strategies."""

from __future__ import annotations

from drctl.plan.context import PlanContext
from drctl.plan.doc import Code, Section
from drctl.plan.sections.fmt import duration, hours, yes
from drctl.topology.model import Replication, System


def facilities(ctx: PlanContext) -> Section:
    topo, gov = ctx.inputs.topology, ctx.inputs.governance
    s = Section("3", "Facilities and infrastructure")
    s.table(
        [
            "site",
            "role",
            "location",
            "distance from primary",
            "operated",
            "capacity",
            "power and environment",
            "telecommunications",
        ],
        [
            (
                site.name,
                str(site.role),
                f"{site.location} ({site.country})",
                f"{site.distance_km} km",
                "outsourced" if site.outsourced else "in-house",
                *(
                    (f.capacity, f.power_environment, f.telecommunications)
                    if (f := gov.facilities.get(site.name))
                    else ("not recorded",) * 3
                ),
            )
            for site in topo.sites
        ],
    )
    s.h("Asset inventory")
    s.p("Servers, storage platforms and applications, and the site each sits at (topology).")
    rows = []
    for site in topo.sites:
        for svc in site.services:
            rows.append((site.name, str(svc), "server", "—"))
        for system in topo.systems_at(site.name):
            role = "preferred primary" if system.placement[0] == site.name else "replica"
            rows.append(
                (site.name, system.database.cluster, f"storage platform ({role})", system.name)
            )
            if system.app is not None:
                rows.append((site.name, f"{system.name} app", "application", system.name))
        for cached in site.caches:
            rows.append((site.name, f"{cached} document cache", "cache", cached))
    s.table(["site", "asset", "kind", "system"], rows)
    return s


def bia(ctx: PlanContext) -> Section:
    topo = ctx.inputs.topology
    s = Section("5", "Business impact analysis")
    s.p(
        "Per system: classification, maximum tolerable downtime (MTD), objectives (RTO, RPO) and "
        "work-recovery time (WRT). The rule is RTO + WRT ≤ MTD."
    )
    rows = []
    for system in topo.systems:
        e = ctx.bia(system.name)
        rto = system.objectives.rto_seconds
        deps = ", ".join(system.depends_on) or "—"
        if e is None:
            rows.append(
                (
                    system.name,
                    "NOT CLASSIFIED",
                    str(system.tier),
                    "—",
                    duration(rto),
                    duration(system.objectives.rpo_seconds),
                    "—",
                    "—",
                    deps,
                )
            )
            continue
        ok = "yes" if rto + e.wrt_seconds <= e.mtd_seconds else "NO"
        rows.append(
            (
                system.name,
                str(e.classification),
                str(system.tier),
                duration(e.mtd_seconds),
                duration(rto),
                duration(system.objectives.rpo_seconds),
                duration(e.wrt_seconds),
                ok,
                deps,
            )
        )
    s.table(
        [
            "system",
            "classification",
            "tier",
            "MTD",
            "RTO",
            "RPO",
            "WRT",
            "RTO + WRT ≤ MTD",
            "depends on",
        ],
        rows,
    )
    for system in topo.systems:
        e = ctx.bia(system.name)
        s.h(f"{system.name}: {system.title}", 4)
        if e is None:
            s.p("No business impact analysis recorded: classify it in the BIA data (section 13).")
            continue
        s.p(f"Classification: {e.classification}. {e.justification}")
        s.p("Business functions: " + "; ".join(e.business_functions) + ".")
        s.p(f"Minimum service level during disruption: {e.minimum_service_level}")
        s.table(
            ["outage lasting", "impact", "description"],
            [(hours(i.after_hours), str(i.severity), i.description) for i in e.impact],
        )
    return s


def priorities(ctx: PlanContext) -> Section:
    topo = ctx.inputs.topology
    s = Section("6", "Recovery priorities")
    s.p(
        "Recovery order derived from the topology (tier, recovery order and dependencies): "
        "the systems of one wave depend only on earlier waves and are recovered in parallel."
    )
    rows = []
    for n, wave in enumerate(topo.recovery_waves(), 1):
        for system in wave:
            e = ctx.bia(system.name)
            rows.append(
                (
                    str(n),
                    system.name,
                    str(e.classification) if e else "not classified",
                    str(system.tier),
                    str(system.recovery_order),
                    ", ".join(system.depends_on) or "—",
                )
            )
    s.table(["wave", "system", "classification", "tier", "order", "depends on"], rows)
    return s


def share_tier(ctx: PlanContext, system: System) -> tuple[int, str]:
    """The SHARE tier (0-7) the configuration implies, with the reason."""
    automated = all(
        not step.manual
        for rb in ctx.inputs.runbooks
        if rb.value.kind == "recovery"
        for step in rb.value.steps
    )
    backup = ctx.inputs.backups.of(system.name)
    off_site = backup is not None and any(r.off_site for r in backup.repositories)
    if system.replication is Replication.SYNCHRONOUS and len(system.placement) > 1:
        if automated:
            return 7, "synchronous replication, fully automated recovery runbooks"
        return 6, "synchronous replication (zero data loss); recovery includes a manual declaration"
    if len(system.placement) > 1:
        return 4, "asynchronous replication to a second data centre"
    if off_site:
        return 3, "electronic vaulting of backups off-site"
    return 0, "no off-site data"


def strategies(ctx: PlanContext) -> Section:
    topo, gov = ctx.inputs.topology, ctx.inputs.governance
    s = Section("7", "Recovery strategies")
    rows = []
    for system in topo.systems:
        tier, why = share_tier(ctx, system)
        survivor = system.placement[1] if len(system.placement) > 1 else None
        site_strategy = (
            f"fail over to {survivor} (hot standby), fail back to {system.placement[0]}"
            if survivor
            else f"restore from backup at {system.placement[0]}"
        )
        rows.append(
            (
                system.name,
                f"{tier}: {why}",
                " → ".join(system.placement),
                str(system.replication),
                site_strategy,
            )
        )
    s.table(["system", "SHARE tier", "placement", "replication", "site recovery"], rows)
    s.h("Data protection: backups")
    rows = []
    for system in topo.systems:
        b = ctx.inputs.backups.of(system.name)
        rpo = system.objectives.rpo_seconds
        if b is None:
            rows.append((system.name, "none configured", "—", "—", "—"))
            continue
        sched = "; ".join(f"{x.type} every {duration(x.every_seconds)}" for x in b.schedules)
        repos = "; ".join(
            f"{r.name} at {r.site or r.provider} ({'off-site' if r.off_site else 'on-site'}, "
            f"{r.retention_days} d)"
            for r in b.repositories
        )
        if rpo == 0:
            meets = (
                "RPO 0 met by synchronous replication; backups bound logical corruption to "
                f"{duration(b.best_interval_seconds)}"
            )
        else:
            ok = b.best_interval_seconds <= rpo
            meets = f"{duration(b.best_interval_seconds)} ≤ RPO {duration(rpo)}: {yes(ok)}"
        rows.append((system.name, b.tool, sched, repos, meets))
    s.table(["system", "tool", "schedule", "repositories", "meets the RPO"], rows)
    s.h("Systems kept local on purpose")
    s.table(
        ["system", "where", "why"],
        [(k.system, k.where, k.reason) for k in gov.kept_local],
        empty="None.",
    )
    s.p("Objectives and placement are data in ", Code("inventories/topology.yaml"), ".")
    return s
