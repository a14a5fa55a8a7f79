"""Pieces both loaders share: progress reporting, staff accounts, id reservation, COPY."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import psycopg

from apps.seeding import corpus

Progress = Callable[[str, int, int], None]


def quiet(_stage: str, _done: int, _total: int) -> None:
    """The default progress callback: say nothing."""


def staff(
    conn: psycopg.Connection[Any], count: int, roles: Sequence[str], rng: random.Random
) -> list[tuple[int, str]]:
    """`count` named accounts (stable across runs): their ids and usernames."""
    names: list[str] = []
    while len(names) < count:
        first, last = corpus.person(rng)
        name = f"{first}.{last}".lower()
        if name not in names:
            names.append(name)
    for name in names:
        conn.execute(
            """INSERT INTO users (username, email) VALUES (%s, %s)
               ON CONFLICT (username) DO NOTHING""",
            (name, f"{name}@un.org"),
        )
    rows = conn.execute(
        "SELECT id, username FROM users WHERE username = ANY(%s) ORDER BY id", (names,)
    ).fetchall()
    for user_id, _ in rows:
        for role in roles:
            conn.execute(
                "INSERT INTO user_roles (user_id, role) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (user_id, role),
            )
    return [(int(r[0]), str(r[1])) for r in rows]


def reserve_ids(conn: psycopg.Connection[Any], table: str, n: int) -> list[int]:
    """`n` ids from the table's own sequence, so later API inserts never collide."""
    rows = conn.execute(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)",
        (n,),
    ).fetchall()
    return [int(r[0]) for r in rows]


def copy_rows(
    conn: psycopg.Connection[Any], table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)


def count(conn: psycopg.Connection[Any], sql: str, ids: list[int]) -> int:
    row = conn.execute(sql, (ids,)).fetchone()
    return int(row[0]) if row else 0
