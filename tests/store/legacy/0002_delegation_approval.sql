-- migration: foreign_keys=off
-- zkattest store, schema version 2 (issue 8): OAuth delegation, policy decisions and
-- human step-up approval on verification sessions.
--
-- The status CHECK gains 'awaiting_approval'.  SQLite cannot change a CHECK in place, so
-- the table is rebuilt with the procedure of https://www.sqlite.org/lang_altertable.html
-- ("Making Other Kinds Of Table Schema Changes"): the runner turns foreign keys off
-- before the transaction (the option line above; agents.verification_id references this
-- table, and dropping it with foreign keys on would delete-check every agent's parent),
-- the new table is created under a temporary name, filled, the old one dropped, the new
-- one renamed (agents' reference is by name, so it then points at the new table), the
-- indexes recreated; the runner runs PRAGMA foreign_key_check before it commits, and
-- turns foreign keys back on after.  There are no triggers or views to recreate.

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
);

INSERT INTO verifications_v2 (
    id, status, predicate, params, audience, nonce, rp_scope, today, schema, code_challenge,
    request_token_hash, created_at, expires_at, request_fetched_at, presentation_token_hash,
    presented_at, mode, agent_id, result, reason, attestation, completed_at, client_id
)
SELECT
    id, status, predicate, params, audience, nonce, rp_scope, today, schema, code_challenge,
    request_token_hash, created_at, expires_at, request_fetched_at, presentation_token_hash,
    presented_at, mode, agent_id, result, reason, attestation, completed_at, client_id
FROM verifications;

DROP TABLE verifications;

ALTER TABLE verifications_v2 RENAME TO verifications;

CREATE UNIQUE INDEX verifications_request_token_hash ON verifications (request_token_hash);
CREATE INDEX verifications_status_expires ON verifications (status, expires_at);
-- new in version 2: the policy's request rate per client (recent_count)
CREATE INDEX verifications_client_created ON verifications (client_id, created_at);
