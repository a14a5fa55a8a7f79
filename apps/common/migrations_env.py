"""The body of both apps' Alembic env.py: online migrations on the caller's connection."""

from __future__ import annotations

from alembic import context


def run() -> None:
    config = context.config
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        version_table=config.attributes.get("version_table", "alembic_version"),
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()
