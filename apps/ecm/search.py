"""Full-text search over title, symbol, author and text content (tsvector + GIN index).

Queries match both unstemmed ('simple') and stemmed lexemes in the caller's language, so a
French query finds French documents by stem and any document by exact words or symbols.
Confidential hits the caller may not read are never returned; their withholding is audited.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from apps.common.auth import session
from apps.ecm import access, audit
from apps.ecm.access import READABLE_SQL
from apps.ecm.schemas import Language

QUERY = """websearch_to_tsquery('simple', %(q)s)
           || websearch_to_tsquery(ecm_ts_config(%(lang)s), %(q)s)"""
FILTERS = """d.search_vector @@ q.query
    AND (%(language)s::text IS NULL OR d.language = %(language)s)
    AND (%(classification)s::text IS NULL OR d.classification = %(classification)s)"""


def router() -> APIRouter:
    api = APIRouter(tags=["search"])

    @api.get("/search")
    def search(
        request: Request,
        q: str = Query(min_length=1, max_length=500, pattern=r"^[^\x00]+$"),
        lang: Language = "en",
        language: Language | None = None,
        classification: str | None = Query(None, max_length=40, pattern=r"^[A-Z.]+$"),
        limit: int = Query(20, ge=1, le=100),
    ) -> dict[str, Any]:
        with session(request, *access.READERS) as (conn, user):
            params = {
                "q": q, "lang": lang, "language": language, "classification": classification,
                "limit": limit, "uid": user.id, "admin": "admin" in user.roles,
            }  # fmt: skip
            hits = conn.execute(
                f"""WITH q AS (SELECT {QUERY} AS query)
                    SELECT d.id, d.title, d.author, d.language, d.doc_date AS date, d.symbol,
                           d.classification, d.security_level,
                           ts_rank(d.search_vector, q.query) AS rank
                      FROM documents d, q
                     WHERE {FILTERS} AND {READABLE_SQL}
                     ORDER BY rank DESC, d.id LIMIT %(limit)s""",
                params,
            ).fetchall()
            withheld = conn.execute(
                f"""WITH q AS (SELECT {QUERY} AS query)
                    SELECT d.id FROM documents d, q
                     WHERE {FILTERS} AND NOT {READABLE_SQL}
                     ORDER BY d.id LIMIT 100""",
                params,
            ).fetchall()
            audit.record(conn, user, "search", None, q=q, hits=[h["id"] for h in hits])
            for row in withheld:
                audit.record(conn, user, "search_hit", row["id"], "denied", q=q)
        return {"q": q, "count": len(hits), "hits": hits}

    return api
