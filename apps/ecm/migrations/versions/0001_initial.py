"""ECM initial schema: documents, versions, grants, records, audit, full-text search.

Revision ID: 0001
Revises:
Create Date: 2025-11-25
"""

from alembic import op

from apps.common.schema import COMMON_V1, COMMON_V1_DROP

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TAXONOMY = [
    ("ADM", "Administration and management"),
    ("ADM.FIN", "Finance and budget"),
    ("ADM.HR", "Human resources"),
    ("ADM.PROC", "Procurement"),
    ("HR", "Human rights"),
    ("PS", "Peace and security"),
    ("PS.PKO", "Peacekeeping operations"),
    ("DEV", "Sustainable development"),
    ("DEV.ENV", "Environment and climate"),
    ("HUM", "Humanitarian affairs"),
    ("LEG", "Legal affairs"),
    ("ICT", "Information and communications technology"),
]

SCHEDULES = [
    ("TRANSITORY", "Transitory records", 365, "destroy"),
    ("ADMIN-7Y", "Administrative records, seven years", 7 * 365, "destroy"),
    ("FIN-10Y", "Financial records, ten years", 10 * 365, "destroy"),
    ("PERMANENT", "Archival value: transfer to the archives", 25 * 365, "transfer"),
]

ECM_V1 = [
    # One text-search configuration per supported language (zh has no stemmer: simple).
    """CREATE FUNCTION ecm_ts_config(lang text) RETURNS regconfig
       LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
         SELECT CASE lang WHEN 'en' THEN 'english'::regconfig WHEN 'fr' THEN 'french'::regconfig
                          WHEN 'es' THEN 'spanish'::regconfig WHEN 'ru' THEN 'russian'::regconfig
                          WHEN 'ar' THEN 'arabic'::regconfig ELSE 'simple'::regconfig END $$""",
    """CREATE TABLE taxonomy_terms (
        code text PRIMARY KEY,
        label text NOT NULL)""",
    """CREATE TABLE retention_schedules (
        code text PRIMARY KEY,
        title text NOT NULL,
        retention_days integer NOT NULL CHECK (retention_days >= 0),
        disposition_action text NOT NULL CHECK (disposition_action IN ('destroy', 'transfer')))""",
    """CREATE TABLE documents (
        id bigserial PRIMARY KEY,
        title text NOT NULL,
        author text NOT NULL,
        language text NOT NULL CHECK (language IN ('en', 'fr', 'es', 'ar', 'ru', 'zh')),
        doc_date date NOT NULL,
        symbol text,
        classification text NOT NULL REFERENCES taxonomy_terms (code),
        security_level text NOT NULL CHECK (security_level IN
            ('public', 'internal', 'confidential', 'strictly_confidential')),
        owner_id bigint REFERENCES users (id),
        current_version integer NOT NULL DEFAULT 0,
        content_text text NOT NULL DEFAULT '',
        locked_by bigint REFERENCES users (id),
        locked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        search_vector tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('simple', title || ' ' || coalesce(symbol, '')), 'A')
            || setweight(to_tsvector(ecm_ts_config(language), title), 'A')
            || setweight(to_tsvector('simple', author), 'B')
            || to_tsvector(ecm_ts_config(language), content_text)
            || to_tsvector('simple', content_text)) STORED,
        UNIQUE (symbol, language))""",
    "CREATE INDEX documents_search ON documents USING gin (search_vector)",
    "CREATE INDEX documents_owner ON documents (owner_id)",
    """CREATE TABLE document_versions (
        document_id bigint NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        version integer NOT NULL CHECK (version > 0),
        content bytea,
        sha256 text NOT NULL,
        size bigint NOT NULL,
        media_type text NOT NULL,
        filename text NOT NULL DEFAULT '',
        comment text NOT NULL DEFAULT '',
        created_by bigint REFERENCES users (id),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (document_id, version))""",
    """CREATE TABLE document_grants (
        document_id bigint NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        access text NOT NULL CHECK (access IN ('read', 'write')),
        PRIMARY KEY (document_id, user_id))""",
    """CREATE TABLE records (
        document_id bigint PRIMARY KEY REFERENCES documents (id),
        schedule text NOT NULL REFERENCES retention_schedules (code),
        declared_at timestamptz NOT NULL DEFAULT now(),
        declared_by bigint REFERENCES users (id),
        retention_until timestamptz NOT NULL,
        legal_hold boolean NOT NULL DEFAULT false,
        legal_hold_reason text,
        disposed_at timestamptz,
        disposed_by bigint REFERENCES users (id),
        disposition text)""",
    # No foreign keys: the trail must outlive what it describes.
    """CREATE TABLE audit_events (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        actor_id bigint,
        actor text NOT NULL,
        action text NOT NULL,
        document_id bigint,
        outcome text NOT NULL,
        details jsonb NOT NULL DEFAULT '{}')""",
    "CREATE INDEX audit_events_document ON audit_events (document_id, id)",
    "CREATE INDEX audit_events_actor ON audit_events (actor, id)",
    # The drill engine's documents, checked by SHA-256 after a failover.
    """CREATE TABLE probe_documents (
        drill text NOT NULL,
        seq bigint NOT NULL,
        content bytea NOT NULL,
        sha256 text NOT NULL,
        committed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (drill, seq))""",
]


def upgrade() -> None:
    for statement in COMMON_V1 + ECM_V1:
        op.execute(statement)
    for code, label in TAXONOMY:
        op.execute(f"INSERT INTO taxonomy_terms (code, label) VALUES ('{code}', '{label}')")
    for code, title, days, action in SCHEDULES:
        op.execute(
            "INSERT INTO retention_schedules (code, title, retention_days, disposition_action)"
            f" VALUES ('{code}', '{title}', {days}, '{action}')"
        )


def downgrade() -> None:
    for table in [
        "probe_documents",
        "audit_events",
        "records",
        "document_grants",
        "document_versions",
        "documents",
        "retention_schedules",
        "taxonomy_terms",
        *COMMON_V1_DROP,
    ]:
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("DROP FUNCTION IF EXISTS ecm_ts_config(text)")
