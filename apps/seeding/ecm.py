"""Bulk-loads ECM: staff accounts, documents with versions (SHA-256 content), grants on
confidential ones, declared records (some on legal hold, some disposed of) and the audit
trail each of those steps would have left. COPY in batches, one transaction per batch, so
an interrupted run keeps what it loaded and a re-run tops up to the requested count."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from apps.seeding import common, corpus

LOCK = 7_201_101
BATCH = 1000
LANGUAGES = ["en"] * 12 + ["fr"] * 3 + ["es"] * 2 + ["ar", "ru", "zh"]
LEVELS = ["public"] * 10 + ["internal"] * 7 + ["confidential"] * 2 + ["strictly_confidential"]
SYMBOL_PREFIXES = ["A/79", "A/HRC/58", "S/2025", "E/2025", "E/CN.6/2025", "UNEP/EA.7", "DP/2025"]
NOW = dt.datetime(2025, 11, 1, tzinfo=dt.UTC)


def seed_ecm(
    dsn: str, documents: int, progress: common.Progress = common.quiet, batch: int = BATCH
) -> int:
    """Top ECM up to `documents` seeded documents; returns how many were added."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK,))
        owners = common.staff(conn, 60, ["user"], random.Random(1))
        manager = common.staff(conn, 1, ["records_manager"], random.Random(2))[0]
        conn.commit()
        have = common.count(
            conn, "SELECT count(*) FROM documents WHERE owner_id = ANY(%s)", [o[0] for o in owners]
        )
        progress("documents", min(have, documents), documents)
        context = _Context(conn, owners, manager)
        for start in range(have, documents, batch):
            count = min(batch, documents - start)
            _batch(context, random.Random(start), count, start)
            conn.commit()
            progress("documents", start + count, documents)
        return max(0, documents - have)


class _Context:
    def __init__(
        self, conn: psycopg.Connection[Any], owners: list[tuple[int, str]], manager: tuple[int, str]
    ) -> None:
        self.conn = conn
        self.owners = owners
        self.manager = manager
        self.taxonomy = [r[0] for r in conn.execute("SELECT code FROM taxonomy_terms").fetchall()]
        self.schedules = {
            r[0]: (int(r[1]), r[2])
            for r in conn.execute(
                "SELECT code, retention_days, disposition_action FROM retention_schedules"
            ).fetchall()
        }


def _batch(ctx: _Context, rng: random.Random, count: int, start: int) -> None:
    ids = common.reserve_ids(ctx.conn, "documents", count)
    docs: list[tuple[Any, ...]] = []
    versions: list[tuple[Any, ...]] = []
    grants: list[tuple[Any, ...]] = []
    records: list[tuple[Any, ...]] = []
    audit: list[tuple[Any, ...]] = []
    for offset, doc_id in enumerate(ids):
        owner_id, owner = rng.choice(ctx.owners)
        language = rng.choice(LANGUAGES)
        created = NOW - dt.timedelta(days=8 * 365 * rng.random() ** 1.5)
        title = corpus.fill(rng.choice(corpus.TITLE_FORMS), rng)
        level = rng.choice(LEVELS)
        symbol = None
        if rng.random() < 0.6:
            symbol = f"{rng.choice(SYMBOL_PREFIXES)}/{start + offset + 1}"
        text = corpus.document_text(rng, language, title)
        n_versions = rng.choice([1, 1, 1, 2, 2, 3])
        at = created
        for version in range(1, n_versions + 1):
            if version > 1:
                at += dt.timedelta(hours=rng.uniform(1, 24 * 30))
                text += "\n" + corpus.paragraph(rng, language, 3) + "\n"
            data = text.encode()
            sha = hashlib.sha256(data).hexdigest()
            versions.append(
                (
                    doc_id,
                    version,
                    data,
                    sha,
                    len(data),
                    "text/plain",
                    f"document-{doc_id}-v{version}.txt",
                    "created" if version == 1 else "revised",
                    owner_id,
                    at,
                )
            )
            action = "create" if version == 1 else "checkin"
            audit.append(
                (
                    at,
                    owner_id,
                    owner,
                    action,
                    doc_id,
                    "ok",
                    Jsonb({"version": version, "sha256": sha, "size": len(data)}),
                )
            )
        docs.append(
            (
                doc_id,
                title[:300],
                rng.choice(corpus.AUTHORS),
                language,
                created.date(),
                symbol,
                rng.choice(ctx.taxonomy),
                level,
                owner_id,
                n_versions,
                text,
                created,
                at,
            )
        )
        if level in ("confidential", "strictly_confidential"):
            for grantee_id, grantee in rng.sample(ctx.owners, 2):
                if grantee_id != owner_id:
                    access = rng.choice(["read", "read", "write"])
                    grants.append((doc_id, grantee_id, access))
                    audit.append(
                        (
                            at,
                            owner_id,
                            owner,
                            "grant",
                            doc_id,
                            "ok",
                            Jsonb({"username": grantee, "access": access}),
                        )
                    )
        if (NOW - created).days > 365 and rng.random() < 0.15:
            records.append(_record(ctx, rng, doc_id, at, versions, docs, audit))
    _drop_taken_symbols(ctx.conn, docs)
    common.copy_rows(
        ctx.conn,
        "documents",
        [
            "id",
            "title",
            "author",
            "language",
            "doc_date",
            "symbol",
            "classification",
            "security_level",
            "owner_id",
            "current_version",
            "content_text",
            "created_at",
            "updated_at",
        ],
        docs,
    )
    common.copy_rows(
        ctx.conn,
        "document_versions",
        [
            "document_id",
            "version",
            "content",
            "sha256",
            "size",
            "media_type",
            "filename",
            "comment",
            "created_by",
            "created_at",
        ],
        versions,
    )
    common.copy_rows(ctx.conn, "document_grants", ["document_id", "user_id", "access"], grants)
    common.copy_rows(
        ctx.conn,
        "records",
        [
            "document_id",
            "schedule",
            "declared_at",
            "declared_by",
            "retention_until",
            "legal_hold",
            "legal_hold_reason",
            "disposed_at",
            "disposed_by",
            "disposition",
        ],
        records,
    )
    common.copy_rows(
        ctx.conn,
        "audit_events",
        ["at", "actor_id", "actor", "action", "document_id", "outcome", "details"],
        audit,
    )


def _record(
    ctx: _Context,
    rng: random.Random,
    doc_id: int,
    last_change: dt.datetime,
    versions: list[tuple[Any, ...]],
    docs: list[tuple[Any, ...]],
    audit: list[tuple[Any, ...]],
) -> tuple[Any, ...]:
    """Declare the document a record; an expired one may have been disposed of already."""
    manager_id, manager = ctx.manager
    schedule = rng.choice(sorted(ctx.schedules))
    days, action = ctx.schedules[schedule]
    declared = last_change + dt.timedelta(days=rng.uniform(1, 60))
    until = declared + dt.timedelta(days=days)
    hold = rng.random() < 0.05
    reason = f"OIOS case {declared.year}/{rng.randint(100, 999)}" if hold else None
    audit.append(
        (
            declared,
            manager_id,
            manager,
            "declare_record",
            doc_id,
            "ok",
            Jsonb({"schedule": schedule, "retention_until": until.isoformat()}),
        )
    )
    if hold:
        audit.append(
            (declared, manager_id, manager, "legal_hold", doc_id, "ok", Jsonb({"reason": reason}))
        )
    disposed = None
    if not hold and until < NOW and rng.random() < 0.5:
        disposed = until + dt.timedelta(days=rng.uniform(1, 30))
        for i, row in enumerate(versions):
            if row[0] == doc_id:
                versions[i] = (*row[:2], None, *row[3:])
        docs[-1] = (*docs[-1][:10], "", *docs[-1][11:])
        audit.append(
            (disposed, manager_id, manager, "dispose", doc_id, "ok", Jsonb({"disposition": action}))
        )
    return (
        doc_id,
        schedule,
        declared,
        manager_id,
        until,
        hold,
        reason,
        disposed,
        manager_id if disposed else None,
        action if disposed else None,
    )


def _drop_taken_symbols(conn: psycopg.Connection[Any], docs: list[tuple[Any, ...]]) -> None:
    """Symbols are unique per language: leave out any that someone already used."""
    wanted = [(d[5], d[3]) for d in docs if d[5] is not None]
    if not wanted:
        return
    taken = set(
        conn.execute(
            """SELECT symbol, language FROM documents
                WHERE (symbol, language) IN (SELECT * FROM unnest(%s::text[], %s::text[]))""",
            ([w[0] for w in wanted], [w[1] for w in wanted]),
        ).fetchall()
    )
    for i, doc in enumerate(docs):
        if (doc[5], doc[3]) in taken:
            docs[i] = (*doc[:5], None, *doc[6:])
