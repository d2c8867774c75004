"""0003 audit: the audit trail in the database (:mod:`zkattest.store.audit`).

``audit_events`` holds one row per event of a chain, ``(chain_id, seq)`` its key; the
event itself is kept byte for byte as the trail format writes it (``event``: the
canonical JSON with its ``hash``, see :mod:`zkattest.audit.events`), next to the columns
queries need (``ts``, ``kind``, ``hash``).  ``audit_checkpoints`` holds the signed
checkpoints, each referencing the event it covers.  On PostgreSQL ``chain_id`` uses the
"C" collation, so chains sort in byte order as on SQLite (paging depends on it).
"""

from __future__ import annotations

from zkattest.store.migrations.versions import run

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SQLITE = (
    """\
CREATE TABLE audit_events (
    chain_id TEXT NOT NULL CHECK (length(chain_id) BETWEEN 1 AND 64),
    seq      INTEGER NOT NULL CHECK (typeof(seq) = 'integer' AND seq >= 0),
    ts       INTEGER NOT NULL CHECK (typeof(ts) = 'integer' AND ts >= 0),
    kind     TEXT NOT NULL,
    hash     TEXT NOT NULL CHECK (length(hash) = 64 AND hash NOT GLOB '*[^0-9a-f]*'),
    event    TEXT NOT NULL,
    PRIMARY KEY (chain_id, seq)
) WITHOUT ROWID""",
    """\
CREATE TABLE audit_checkpoints (
    chain_id TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    ts       INTEGER NOT NULL CHECK (typeof(ts) = 'integer' AND ts >= 0),
    head     TEXT NOT NULL CHECK (length(head) = 64 AND head NOT GLOB '*[^0-9a-f]*'),
    jws      TEXT NOT NULL,
    PRIMARY KEY (chain_id, seq),
    FOREIGN KEY (chain_id, seq) REFERENCES audit_events (chain_id, seq)
) WITHOUT ROWID""",
)

POSTGRESQL = (
    """\
CREATE TABLE audit_events (
    chain_id text COLLATE "C" NOT NULL CHECK (chain_id ~ '^[A-Za-z0-9._~-]{1,64}$'),
    seq      bigint NOT NULL CHECK (seq >= 0),
    ts       bigint NOT NULL CHECK (ts >= 0),
    kind     text NOT NULL,
    hash     text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    event    text NOT NULL,
    PRIMARY KEY (chain_id, seq)
)""",
    """\
CREATE TABLE audit_checkpoints (
    chain_id text COLLATE "C" NOT NULL,
    seq      bigint NOT NULL,
    ts       bigint NOT NULL CHECK (ts >= 0),
    head     text NOT NULL CHECK (head ~ '^[0-9a-f]{64}$'),
    jws      text NOT NULL,
    PRIMARY KEY (chain_id, seq),
    FOREIGN KEY (chain_id, seq) REFERENCES audit_events (chain_id, seq)
)""",
)

DROP = ("DROP TABLE audit_checkpoints", "DROP TABLE audit_events")


def upgrade() -> None:
    run(sqlite=SQLITE, postgresql=POSTGRESQL)


def downgrade() -> None:
    run(sqlite=DROP, postgresql=DROP)
