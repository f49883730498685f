-- API keys. Only the SHA-256 hash of a key's token is stored; the token is
-- shown once, when the key is created.
CREATE TABLE api_keys (
    id           UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    name         TEXT         NOT NULL,
    token_hash   BYTEA        NOT NULL,
    scopes       TEXT[]       NOT NULL,
    merchant_id  INTEGER,
    buyer_id     TEXT,
    rate_limit   INTEGER,
    expires_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ  NOT NULL DEFAULT clock_timestamp(),
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    -- Changes with the key (created, revoked), never with last_used_at: the
    -- servers' key caches read the keys changed since their last read.
    updated_at   TIMESTAMPTZ  NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT api_keys_token_hash_key UNIQUE (token_hash),
    CONSTRAINT api_keys_hash_size CHECK (octet_length(token_hash) = 32),
    CONSTRAINT api_keys_name_check CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT api_keys_scopes_check CHECK (cardinality(scopes) >= 1),
    CONSTRAINT api_keys_merchant_check CHECK (merchant_id IS NULL OR merchant_id >= 1),
    CONSTRAINT api_keys_rate_limit_check CHECK (rate_limit IS NULL OR rate_limit BETWEEN 1 AND 100000)
);

-- Listing newest first, and the caches' "changed since" reads.
CREATE INDEX api_keys_created_at_idx ON api_keys (created_at DESC, id DESC);
CREATE INDEX api_keys_updated_at_idx ON api_keys (updated_at);

-- The principal that queued a job (key:<id> or jwt:<sub>); NULL for jobs
-- queued before credentials existed.
ALTER TABLE jobs ADD COLUMN created_by TEXT;
