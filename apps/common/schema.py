"""SQL for the tables both applications share, used by each app's first migration.

Frozen once released: later changes belong in new Alembic revisions, never here.
"""

from __future__ import annotations

COMMON_V1 = [
    """CREATE TABLE users (
        id bigserial PRIMARY KEY,
        username text NOT NULL UNIQUE CHECK (username <> ''),
        email text,
        active boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now())""",
    "CREATE UNIQUE INDEX users_email ON users (lower(email)) WHERE email IS NOT NULL",
    """CREATE TABLE user_roles (
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        role text NOT NULL,
        PRIMARY KEY (user_id, role))""",
    """CREATE TABLE api_tokens (
        token_hash text PRIMARY KEY,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        label text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz)""",
    # The drill engine's RPO writer: one row per acknowledged write.
    """CREATE TABLE probe_writes (
        drill text NOT NULL,
        seq bigint NOT NULL,
        client_ts double precision NOT NULL,
        committed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (drill, seq))""",
    # /readyz proves the database is writable by touching one row here.
    """CREATE TABLE readiness (
        site text PRIMARY KEY,
        checked_at timestamptz NOT NULL DEFAULT now())""",
]

COMMON_V1_DROP = ["readiness", "probe_writes", "api_tokens", "user_roles", "users"]
