"""Bulk-loads CRM: agents in every site's desk and the resolver groups, customers across the
sites, configuration items, and tickets whose status, timestamps, SLA outcome and event
history follow the workflow (older tickets closed, recent ones open, some breached), with
email threads and problems linking incidents. COPY in batches; re-runs top up."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

import psycopg

from apps.crm import itil
from apps.seeding import common, corpus

LOCK = 7_201_102
BATCH = 5000
KINDS = ["incident"] * 72 + ["request"] * 25 + ["problem"] * 3
LEVELS = [1] + [2] * 3 + [3] * 6
CHANNELS = (
    ["email"] * 30 + ["phone"] * 20 + ["self-service"] * 35 + ["walk-in"] * 5 + ["monitoring"] * 10
)
CI_TYPES = {
    "application": ["ecm", "crm", "umoja", "inspira", "email", "intranet"],
    "database": ["ecm-db", "crm-db", "umoja-db"],
    "network": ["wan", "wifi", "vpn"],
    "server": ["app", "file", "print"],
    "storage": ["nas", "backup"],
}
TICKET_COLUMNS = [
    "id",
    "kind",
    "title",
    "description",
    "status",
    "impact",
    "urgency",
    "priority",
    "customer_id",
    "desk_code",
    "group_code",
    "assignee_id",
    "ci_id",
    "problem_id",
    "channel",
    "reported_at",
    "response_due",
    "resolve_due",
    "responded_at",
    "resolved_at",
    "closed_at",
    "resolution",
    "created_by",
    "created_at",
    "updated_at",
]
EVENT_COLUMNS = [
    "ticket_id",
    "at",
    "actor_id",
    "actor",
    "kind",
    "from_status",
    "to_status",
    "note",
    "public",
]


@dataclass
class _Context:
    conn: psycopg.Connection[Any]
    now: dt.datetime
    agents: list[tuple[int, str]]
    desks: dict[str, str]  # site -> desk code
    members: dict[str, list[tuple[int, str]]]  # group -> agents
    resolvers: list[str]
    customers: list[tuple[int, str | None, str]]  # id, site, email
    cis: dict[str, list[int]]  # type -> ids
    sla: dict[int, tuple[int, int]]  # priority -> response, resolve minutes
    events: list[tuple[Any, ...]] = field(default_factory=list)
    mails: list[tuple[Any, ...]] = field(default_factory=list)


def seed_crm(
    dsn: str, tickets: int, progress: common.Progress = common.quiet, batch: int = BATCH
) -> int:
    """Top CRM up to `tickets` seeded tickets; returns how many were added."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK,))
        ctx = _prepare(conn, max(200, min(20_000, tickets // 8)))
        conn.commit()
        have = common.count(
            conn,
            "SELECT count(*) FROM tickets WHERE created_by = ANY(%s)",
            [a[0] for a in ctx.agents],
        )
        progress("tickets", min(have, tickets), tickets)
        for start in range(have, tickets, batch):
            count = min(batch, tickets - start)
            _batch(ctx, random.Random(start), count)
            conn.commit()
            progress("tickets", start + count, tickets)
        return max(0, tickets - have)


def _prepare(conn: psycopg.Connection[Any], n_customers: int) -> _Context:
    rng = random.Random(7)
    agents = common.staff(conn, 50, ["agent"], random.Random(11))
    common.staff(conn, 3, ["manager"], random.Random(12))
    groups = conn.execute("SELECT code, site, kind FROM assignment_groups ORDER BY code").fetchall()
    desks = {site: code for code, site, kind in groups if kind == "service_desk"}
    resolvers = [code for code, _, kind in groups if kind == "resolver"]
    desk_codes = sorted(desks.values())
    members: dict[str, list[tuple[int, str]]] = {code: [] for code, _, _ in groups}
    for i, agent in enumerate(agents):
        homes = [desk_codes[i % len(desk_codes)]]
        if i % 3 == 0:
            homes.append(resolvers[i % len(resolvers)])
        for code in homes:
            members[code].append(agent)
            conn.execute(
                "INSERT INTO group_members VALUES (%s, %s) ON CONFLICT DO NOTHING", (code, agent[0])
            )
    sites = sorted(desks)
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE seed_customers (email text, name text, organisation "
            "text, site text) ON COMMIT DROP"
        )
        with cur.copy("COPY seed_customers FROM STDIN") as cp:
            for n in range(n_customers):
                first, last = corpus.person(rng)
                email = f"{first}.{last}.{n}@un.org".lower()
                cp.write_row(
                    (email, f"{first} {last}", rng.choice(corpus.AUTHORS), rng.choice(sites))
                )
        cur.execute("""INSERT INTO customers (email, name, organisation, site)
                       SELECT * FROM seed_customers ON CONFLICT ((lower(email))) DO NOTHING""")
    for ci_type, names in CI_TYPES.items():
        for name in names:
            for site in sites:
                conn.execute(
                    """INSERT INTO configuration_items (name, ci_type, site, owner_group)
                       VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO NOTHING""",
                    (f"{name}-{site}", ci_type, site, rng.choice(resolvers)),
                )
    customers = conn.execute(
        "SELECT id, site, email FROM customers WHERE email LIKE '%%@un.org' ORDER BY id"
    ).fetchall()
    cis = conn.execute("SELECT id, ci_type FROM configuration_items ORDER BY id").fetchall()
    sla = {int(p): (int(a), int(b)) for p, a, b in conn.execute("SELECT * FROM sla_targets")}
    now = dt.datetime.now(dt.UTC)
    by_type: dict[str, list[int]] = {}
    for ci_id, ci_type in cis:
        by_type.setdefault(ci_type, []).append(int(ci_id))
    return _Context(
        conn,
        now,
        agents,
        desks,
        members,
        resolvers,
        [(int(c), s, e) for c, s, e in customers],
        by_type,
        sla,
    )


def _batch(ctx: _Context, rng: random.Random, count: int) -> None:
    ids = common.reserve_ids(ctx.conn, "tickets", count)
    rows = [_ticket(ctx, rng, ticket_id) for ticket_id in ids]
    # Problems first in the COPY, then a few incidents of the batch point at each.
    rows.sort(key=lambda r: r[1] != "problem")
    problems = [r[0] for r in rows if r[1] == "problem"]
    incidents = [i for i, r in enumerate(rows) if r[1] == "incident"]
    for problem_id in problems:
        for index in rng.sample(incidents, min(len(incidents), rng.randint(2, 6))):
            rows[index] = (*rows[index][:13], problem_id, *rows[index][14:])
    common.copy_rows(ctx.conn, "tickets", TICKET_COLUMNS, rows)
    common.copy_rows(ctx.conn, "ticket_events", EVENT_COLUMNS, ctx.events)
    common.copy_rows(
        ctx.conn,
        "email_messages",
        ["message_id", "ticket_id", "from_addr", "subject", "received_at"],
        ctx.mails,
    )
    ctx.events.clear()
    ctx.mails.clear()


def _ticket(ctx: _Context, rng: random.Random, ticket_id: int) -> tuple[Any, ...]:
    kind = rng.choice(KINDS)
    customer_id, site, email = rng.choice(ctx.customers)
    desk = (
        ctx.desks.get(site or "", "SD-BRINDISI")
        if rng.random() < 0.8
        else rng.choice(sorted(ctx.desks.values()))
    )
    group = desk if rng.random() < 0.7 else rng.choice(ctx.resolvers)
    impact, urgency = rng.choice(LEVELS), rng.choice(LEVELS)
    priority = itil.priority(impact, urgency)
    reported = ctx.now - dt.timedelta(minutes=730 * 24 * 60 * rng.random() ** 1.3)
    place = (site or "brindisi").title()
    if kind == "request":
        title = corpus.fill(rng.choice(corpus.REQUESTS), rng, site=place)
        ci = None
    else:
        form, ci_type = rng.choice(corpus.PROBLEMS)
        title = corpus.fill(form, rng, site=place)
        typed = ctx.cis.get(ci_type, [])
        ci = rng.choice(typed) if typed and rng.random() < 0.7 else None
    description = corpus.paragraph(rng, "en", rng.randint(1, 3))
    response_min, resolve_min = ctx.sla[priority]
    timed = kind != "problem"
    response_due = reported + dt.timedelta(minutes=response_min) if timed else None
    resolve_due = reported + dt.timedelta(minutes=resolve_min) if timed else None
    staff = ctx.members.get(group) or ctx.agents
    assignee_id, assignee = rng.choice(staff)
    creator = rng.choice(ctx.agents)
    path, times = _history(ctx, rng, kind, reported, response_min, resolve_min)
    status = path[-1]
    _events(ctx, ticket_id, creator, (assignee_id, assignee), title, path, times, rng)
    channel = "api" if kind == "problem" else rng.choice(CHANNELS)
    if channel == "email":
        ctx.mails.append(
            (
                f"seed.{ticket_id}@mail.un.org",
                ticket_id,
                email,
                title,
                reported,
            )
        )
    responded = times[1] if len(times) > 1 else None
    resolved = next((t for s, t in zip(path, times, strict=True) if s in itil.DONE), None)
    closed = times[-1] if status in itil.FINAL else None
    resolution = "Fixed and confirmed with the customer" if resolved else None
    return (
        ticket_id,
        kind,
        title,
        description,
        status,
        impact,
        urgency,
        priority,
        customer_id,
        desk,
        group,
        assignee_id if status != "new" else None,
        ci,
        None,
        channel,
        reported,
        response_due,
        resolve_due,
        responded,
        resolved,
        closed,
        resolution,
        creator[0],
        reported,
        times[-1],
    )


def _history(
    ctx: _Context,
    rng: random.Random,
    kind: str,
    reported: dt.datetime,
    response: int,
    resolve: int,
) -> tuple[list[str], list[dt.datetime]]:
    """The statuses a ticket went through and when: a legal walk along its workflow."""
    full = {
        "incident": ["new", "assigned", "in_progress", "resolved", "closed"],
        "request": ["new", "approved", "in_progress", "fulfilled", "closed"],
        "problem": ["new", "investigating", "known_error", "resolved", "closed"],
    }[kind]
    age_min = (ctx.now - reported).total_seconds() / 60
    # How far it got: old tickets are finished, recent ones may still be open.
    if age_min < resolve:
        progress = rng.randint(1, 4)
    elif age_min < 2 * resolve:
        progress = rng.choices([1, 2, 3, 4, 5], [1, 2, 3, 3, 6])[0]
    else:
        progress = rng.choices([1, 2, 3, 4, 5], [1, 1, 1, 1, 40])[0]
    path = full[:progress]
    if progress == 1 and age_min > 2 * resolve and rng.random() < 0.5:
        path = ["new", "rejected" if kind == "request" else "cancelled"]
    steps = [reported]
    first = response * rng.uniform(0.1, 1.15)  # about one in eight responses is late
    done = resolve * rng.uniform(0.1, 1.1)  # about one in ten resolutions is late
    for i in range(1, len(path)):
        offset = first if i == 1 else first + (done - first) * i / max(1, len(full) - 2)
        if path[i] == "closed":
            offset = done + rng.uniform(60, 5 * 24 * 60)
        at = reported + dt.timedelta(minutes=max(offset, 1.0 * i))
        steps.append(min(at, ctx.now - dt.timedelta(minutes=len(path) - i)))
    for i in range(1, len(steps)):  # keep time moving forward after clamping to now
        steps[i] = max(steps[i], steps[i - 1] + dt.timedelta(seconds=1))
    return path, steps


def _events(
    ctx: _Context,
    ticket_id: int,
    creator: tuple[int, str],
    assignee: tuple[int, str],
    title: str,
    path: list[str],
    times: list[dt.datetime],
    rng: random.Random,
) -> None:
    ctx.events.append(
        (ticket_id, times[0], creator[0], creator[1], "created", None, "new", title, True)
    )
    for i in range(1, len(path)):
        actor = assignee if i > 1 else creator
        ctx.events.append(
            (ticket_id, times[i], actor[0], actor[1], "status", path[i - 1], path[i], "", True)
        )
        if rng.random() < 0.2:
            note = "Called the customer; waiting for a test window."
            ctx.events.append(
                (
                    ticket_id,
                    times[i],
                    actor[0],
                    actor[1],
                    "comment",
                    None,
                    None,
                    note,
                    rng.random() < 0.7,
                )
            )
