-- Idempotency-Key records of POST /orders. A row is claimed (status_code NULL)
-- before the order runs and gets its outcome in the same statement that
-- places the order, so an order and its recorded outcome commit together.
CREATE TABLE idempotency_keys (
    key         VARCHAR(255) PRIMARY KEY,
    -- The request the key was first used with.
    product_id  INTEGER      NOT NULL,
    quantity    INTEGER      NOT NULL,
    buyer_id    VARCHAR(255) NOT NULL,
    -- The claim of the request in flight; a claim older than the lease is abandoned.
    claim_id    UUID         NOT NULL,
    claimed_at  TIMESTAMP    NOT NULL DEFAULT NOW(),
    -- The outcome: NULL while in flight, then 200 with order_id, or 404/409 with error_code.
    status_code INTEGER,
    order_id    UUID         REFERENCES orders (id),
    error_code  VARCHAR(50),
    created_at  TIMESTAMP    NOT NULL DEFAULT NOW(),
    CONSTRAINT idempotency_keys_outcome_check CHECK (
        status_code IS NULL
        OR (status_code = 200 AND order_id IS NOT NULL AND error_code IS NULL)
        OR (status_code IN (404, 409) AND order_id IS NULL AND error_code IS NOT NULL)
    )
);

-- Purging keys older than their retention.
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
