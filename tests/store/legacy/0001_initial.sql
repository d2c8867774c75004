-- zkattest store, schema version 1: verification sessions, micro-agents, one-use keys.
-- Token columns hold SHA-256 hex digests (*_hash, checked), never tokens.
-- Times are epoch seconds.

CREATE TABLE verifications (
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
);

CREATE UNIQUE INDEX verifications_request_token_hash ON verifications (request_token_hash);
CREATE INDEX verifications_status_expires ON verifications (status, expires_at);

CREATE TABLE agents (
    id              TEXT PRIMARY KEY,
    spiffe_id       TEXT NOT NULL,
    verification_id TEXT NOT NULL REFERENCES verifications (id),
    task            TEXT NOT NULL,
    state           TEXT NOT NULL
        CHECK (state IN ('provisioned', 'running', 'attested', 'retired', 'expired', 'failed')),
    audience        TEXT NOT NULL,
    svid_jti        TEXT NOT NULL,
    key_thumbprint  TEXT NOT NULL,
    created_at      DOUBLE PRECISION NOT NULL,
    expires_at      DOUBLE PRECISION NOT NULL,
    running_at      DOUBLE PRECISION,
    attested_at     DOUBLE PRECISION,
    retired_at      DOUBLE PRECISION,
    failed_reason   TEXT,
    attestation_jti TEXT
);

CREATE UNIQUE INDEX agents_spiffe_id ON agents (spiffe_id);
CREATE UNIQUE INDEX agents_verification_id ON agents (verification_id);
CREATE UNIQUE INDEX agents_svid_jti ON agents (svid_jti);
CREATE UNIQUE INDEX agents_attestation_jti ON agents (attestation_jti);
CREATE INDEX agents_state_expires ON agents (state, expires_at);

CREATE TABLE one_use (
    namespace  TEXT NOT NULL,
    key        TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (namespace, key)
);

CREATE INDEX one_use_expires ON one_use (expires_at);
