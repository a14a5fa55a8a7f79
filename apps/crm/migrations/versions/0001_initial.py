"""CRM initial schema: desks and groups, customers, CIs, tickets, events, email, SLA targets.

Revision ID: 0001
Revises:
Create Date: 2025-11-26
"""

from alembic import op

from apps.common.schema import COMMON_V1, COMMON_V1_DROP

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# One service desk per site (DESIGN section 1) and the resolver groups behind them.
SITES = [
    ("brindisi", "Brindisi"),
    ("valencia", "Valencia"),
    ("newyork", "New York"),
    ("geneva", "Geneva"),
    ("vienna", "Vienna"),
    ("nairobi", "Nairobi"),
    ("addis-ababa", "Addis Ababa"),
    ("bangkok", "Bangkok"),
    ("beirut", "Beirut"),
    ("santiago", "Santiago"),
]
RESOLVERS = [
    ("DBA", "Database administration", "brindisi"),
    ("NETWORK", "Network operations", "valencia"),
    ("APPS", "Enterprise applications", "brindisi"),
    ("WORKPLACE", "Workplace and devices", "newyork"),
    ("SECURITY", "Information security", "newyork"),
]
# ITIL-style targets per priority: (priority, response minutes, resolution minutes).
SLA = [(1, 15, 4 * 60), (2, 30, 8 * 60), (3, 120, 24 * 60), (4, 480, 72 * 60), (5, 1440, 168 * 60)]

CRM_V1 = [
    """CREATE TABLE assignment_groups (
        code text PRIMARY KEY,
        name text NOT NULL,
        site text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('service_desk', 'resolver')),
        email text UNIQUE)""",
    "CREATE UNIQUE INDEX one_desk_per_site ON assignment_groups (site) WHERE kind = 'service_desk'",
    """CREATE TABLE group_members (
        group_code text NOT NULL REFERENCES assignment_groups (code),
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        PRIMARY KEY (group_code, user_id))""",
    """CREATE TABLE customers (
        id bigserial PRIMARY KEY,
        email text NOT NULL,
        name text NOT NULL,
        organisation text NOT NULL DEFAULT '',
        site text,
        created_at timestamptz NOT NULL DEFAULT now())""",
    "CREATE UNIQUE INDEX customers_email ON customers (lower(email))",
    """CREATE TABLE configuration_items (
        id bigserial PRIMARY KEY,
        name text NOT NULL UNIQUE,
        ci_type text NOT NULL CHECK (ci_type IN ('application', 'database', 'server', 'network',
            'storage', 'service', 'workstation')),
        site text,
        owner_group text REFERENCES assignment_groups (code),
        status text NOT NULL DEFAULT 'live' CHECK (status IN ('planned', 'live', 'retired')),
        description text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE sla_targets (
        priority smallint PRIMARY KEY CHECK (priority BETWEEN 1 AND 5),
        response_minutes integer NOT NULL CHECK (response_minutes > 0),
        resolve_minutes integer NOT NULL CHECK (resolve_minutes > 0))""",
    """CREATE TABLE tickets (
        id bigserial PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('incident', 'request', 'problem')),
        number text NOT NULL GENERATED ALWAYS AS (
            CASE kind WHEN 'incident' THEN 'INC' WHEN 'request' THEN 'REQ' ELSE 'PRB' END
            || lpad(id::text, greatest(7, length(id::text)), '0')) STORED UNIQUE,
        title text NOT NULL CHECK (title <> ''),
        description text NOT NULL DEFAULT '',
        status text NOT NULL,
        impact smallint NOT NULL CHECK (impact BETWEEN 1 AND 3),
        urgency smallint NOT NULL CHECK (urgency BETWEEN 1 AND 3),
        priority smallint NOT NULL CHECK (priority BETWEEN 1 AND 5),
        customer_id bigint REFERENCES customers (id),
        desk_code text NOT NULL REFERENCES assignment_groups (code),
        group_code text NOT NULL REFERENCES assignment_groups (code),
        assignee_id bigint REFERENCES users (id),
        ci_id bigint REFERENCES configuration_items (id),
        problem_id bigint REFERENCES tickets (id),
        channel text NOT NULL CHECK (channel IN ('api', 'email', 'phone', 'self-service',
            'walk-in', 'monitoring')),
        reported_at timestamptz NOT NULL,
        response_due timestamptz,
        resolve_due timestamptz,
        responded_at timestamptz,
        resolved_at timestamptz,
        closed_at timestamptz,
        resolution text,
        created_by bigint REFERENCES users (id),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        search_vector tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('english', title), 'A')
            || setweight(to_tsvector('simple', title), 'A')
            || to_tsvector('english', left(description, 100000))) STORED)""",
    "CREATE INDEX tickets_search ON tickets USING gin (search_vector)",
    "CREATE INDEX tickets_customer ON tickets (customer_id, reported_at)",
    "CREATE INDEX tickets_status ON tickets (status, desk_code, priority)",
    "CREATE INDEX tickets_problem ON tickets (problem_id) WHERE problem_id IS NOT NULL",
    "CREATE INDEX tickets_ci ON tickets (ci_id) WHERE ci_id IS NOT NULL",
    "CREATE INDEX tickets_created_by ON tickets (created_by)",
    # Every change to a ticket, comments and mail included: the ticket's history.
    """CREATE TABLE ticket_events (
        id bigserial PRIMARY KEY,
        ticket_id bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        actor_id bigint,
        actor text NOT NULL,
        kind text NOT NULL,
        from_status text,
        to_status text,
        note text NOT NULL DEFAULT '',
        public boolean NOT NULL DEFAULT true,
        details jsonb NOT NULL DEFAULT '{}')""",
    "CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id)",
    # Message-IDs seen or sent per ticket, so replies thread onto the right ticket.
    """CREATE TABLE email_messages (
        message_id text PRIMARY KEY,
        ticket_id bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
        from_addr text NOT NULL,
        subject text NOT NULL DEFAULT '',
        received_at timestamptz NOT NULL DEFAULT now())""",
    "CREATE INDEX email_messages_ticket ON email_messages (ticket_id)",
]


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def upgrade() -> None:
    for statement in COMMON_V1 + CRM_V1:
        op.execute(statement)
    for site, label in SITES:
        code = "SD-" + site.upper()
        op.execute(
            "INSERT INTO assignment_groups (code, name, site, kind, email) VALUES ("
            f"{_quote(code)}, {_quote(label + ' service desk')}, {_quote(site)}, "
            f"'service_desk', {_quote('servicedesk.' + site + '@un.org')})"
        )
    for code, name, site in RESOLVERS:
        op.execute(
            "INSERT INTO assignment_groups (code, name, site, kind) VALUES ("
            f"{_quote(code)}, {_quote(name)}, {_quote(site)}, 'resolver')"
        )
    for priority, response, resolve in SLA:
        op.execute(
            "INSERT INTO sla_targets (priority, response_minutes, resolve_minutes)"
            f" VALUES ({priority}, {response}, {resolve})"
        )


def downgrade() -> None:
    for table in [
        "email_messages",
        "ticket_events",
        "tickets",
        "sla_targets",
        "configuration_items",
        "customers",
        "group_members",
        "assignment_groups",
        *COMMON_V1_DROP,
    ]:
        op.execute(f"DROP TABLE IF EXISTS {table}")
