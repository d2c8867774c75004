"""0002 delegation and approval: OAuth delegation (``subject``, ``act``), the policies
that decided (``policy_ids``), human step-up approval (status ``awaiting_approval``,
``approved_by``, ``approved_at``) and the index behind ``recent_count``.

SQLite cannot change a CHECK in place, so ``verifications`` is rebuilt by the procedure
of https://www.sqlite.org/lang_altertable.html ("Making Other Kinds Of Table Schema
Changes"): new table under a temporary name, rows copied, old table dropped, new one
renamed (``agents`` references it by name, so it then points at the new table), indexes
recreated.  That needs foreign keys off, which SQLite ignores inside a transaction: the
runner turns them off around its whole migration transaction and runs ``PRAGMA
foreign_key_check`` before it commits.  The statements are those of the numbered-SQL
runner's ``0002_delegation_approval.sql``.

PostgreSQL alters the table in place: the named status CHECK is replaced, the columns
added (``act`` is ``json``, kept verbatim; ``policy_ids`` is ``jsonb``).
"""

from __future__ import annotations

from zkattest.store.migrations.versions import run

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_V1_COLUMNS = """\
    id, status, predicate, params, audience, nonce, rp_scope, today, schema, code_challenge,
    request_token_hash, created_at, expires_at, request_fetched_at, presentation_token_hash,
    presented_at, mode, agent_id, result, reason, attestation, completed_at, client_id"""

SQLITE = (
    """\
CREATE TABLE verifications_v2 (
    id                      TEXT PRIMARY KEY,
    status                  TEXT NOT NULL
        CHECK (status IN ('awaiting_approval', 'pending', 'presented', 'completed', 'failed',
                          'expired')),
    predicate               TEXT NOT NULL,
    params                  TEXT NOT NULL,
    audience                TEXT NOT NULL,
    nonce                   TEXT NOT NULL,
    rp_scope                TEXT NOT NULL,
    today                   INTEGER NOT NULL,
    schema                  TEXT NOT NULL,
    code_challenge          TEXT NOT NULL,
    request_token_hash      TEXT NOT NULL
        CHECK (length(request_token_hash) = 64 AND request_token_hash NOT GLOB '*[^0-9a-f]*'),
    created_at              DOUBLE PRECISION NOT NULL,
    expires_at              DOUBLE PRECISION NOT NULL,
    request_fetched_at      DOUBLE PRECISION,
    presentation_token_hash TEXT CHECK (presentation_token_hash IS NULL OR (
        length(presentation_token_hash) = 64
        AND presentation_token_hash NOT GLOB '*[^0-9a-f]*')),
    presented_at            DOUBLE PRECISION,
    mode                    TEXT CHECK (mode IS NULL OR mode IN ('proof', 'delegated')),
    agent_id                TEXT,
    result                  INTEGER CHECK (result IS NULL OR result IN (0, 1)),
    reason                  TEXT,
    attestation             TEXT,
    completed_at            DOUBLE PRECISION,
    client_id               TEXT,
    -- new in version 2
    subject                 TEXT,
    act                     TEXT,
    policy_ids              TEXT NOT NULL DEFAULT '[]',
    approved_by             TEXT,
    approved_at             DOUBLE PRECISION,
    CHECK ((approved_by IS NULL AND approved_at IS NULL)
        OR (approved_by IS NOT NULL AND approved_at IS NOT NULL))
)""",
    f"""\
INSERT INTO verifications_v2 (
{_V1_COLUMNS}
)
SELECT
{_V1_COLUMNS}
FROM verifications""",
    "DROP TABLE verifications",
    "ALTER TABLE verifications_v2 RENAME TO verifications",
    "CREATE UNIQUE INDEX verifications_request_token_hash ON verifications (request_token_hash)",
    "CREATE INDEX verifications_status_expires ON verifications (status, expires_at)",
    "CREATE INDEX verifications_client_created ON verifications (client_id, created_at)",
)

SQLITE_DOWN = (
    """\
CREATE TABLE verifications_v1 (
    id                      TEXT PRIMARY KEY,
    status                  TEXT NOT NULL
        CHECK (status IN ('pending', 'presented', 'completed', 'failed', 'expired')),
    predicate               TEXT NOT NULL,
    params                  TEXT NOT NULL,
    audience                TEXT NOT NULL,
    nonce                   TEXT NOT NULL,
    rp_scope                TEXT NOT NULL,
    today                   INTEGER NOT NULL,
    schema                  TEXT NOT NULL,
    code_challenge          TEXT NOT NULL,
    request_token_hash      TEXT NOT NULL
        CHECK (length(request_token_hash) = 64 AND request_token_hash NOT GLOB '*[^0-9a-f]*'),
    created_at              DOUBLE PRECISION NOT NULL,
    expires_at              DOUBLE PRECISION NOT NULL,
    request_fetched_at      DOUBLE PRECISION,
    presentation_token_hash TEXT CHECK (presentation_token_hash IS NULL OR (
        length(presentation_token_hash) = 64
        AND presentation_token_hash NOT GLOB '*[^0-9a-f]*')),
    presented_at            DOUBLE PRECISION,
    mode                    TEXT CHECK (mode IS NULL OR mode IN ('proof', 'delegated')),
    agent_id                TEXT,
    result                  INTEGER CHECK (result IS NULL OR result IN (0, 1)),
    reason                  TEXT,
    attestation             TEXT,
    completed_at            DOUBLE PRECISION,
    client_id               TEXT
)""",
    f"INSERT INTO verifications_v1 (\n{_V1_COLUMNS}\n)\nSELECT\n{_V1_COLUMNS}\nFROM verifications",
    "DROP TABLE verifications",
    "ALTER TABLE verifications_v1 RENAME TO verifications",
    "CREATE UNIQUE INDEX verifications_request_token_hash ON verifications (request_token_hash)",
    "CREATE INDEX verifications_status_expires ON verifications (status, expires_at)",
)

POSTGRESQL = (
    "ALTER TABLE verifications DROP CONSTRAINT verifications_status_check",
    """\
ALTER TABLE verifications
    ADD CONSTRAINT verifications_status_check CHECK (status IN (
        'awaiting_approval', 'pending', 'presented', 'completed', 'failed', 'expired')),
    ADD COLUMN subject     text,
    ADD COLUMN act         json CHECK (json_typeof(act) = 'object'),
    ADD COLUMN policy_ids  jsonb NOT NULL DEFAULT '[]'
        CHECK (jsonb_typeof(policy_ids) = 'array'),
    ADD COLUMN approved_by text,
    ADD COLUMN approved_at double precision,
    ADD CONSTRAINT verifications_approval_check
        CHECK ((approved_by IS NULL) = (approved_at IS NULL))""",
    "CREATE INDEX verifications_client_created ON verifications (client_id, created_at)",
)

POSTGRESQL_DOWN = (
    "DROP INDEX verifications_client_created",
    """\
ALTER TABLE verifications
    DROP CONSTRAINT verifications_approval_check,
    DROP COLUMN subject,
    DROP COLUMN act,
    DROP COLUMN policy_ids,
    DROP COLUMN approved_by,
    DROP COLUMN approved_at,
    DROP CONSTRAINT verifications_status_check,
    ADD CONSTRAINT verifications_status_check
        CHECK (status IN ('pending', 'presented', 'completed', 'failed', 'expired'))""",
)


def upgrade() -> None:
    run(sqlite=SQLITE, postgresql=POSTGRESQL)


def downgrade() -> None:
    # sessions in a status version 1 does not know make the new CHECK fail: refused
    run(sqlite=SQLITE_DOWN, postgresql=POSTGRESQL_DOWN)
