-- Idempotency-Key records say what happened to the order in the store's own
-- terms (an outcome), no longer as an HTTP status code and error code. Rows
-- written before keep their meaning: 200 -> placed, 409 -> out_of_stock,
-- 404 -> product_not_found; claims in flight stay NULL.
ALTER TABLE idempotency_keys
    ADD COLUMN outcome VARCHAR(30),
    DROP CONSTRAINT idempotency_keys_outcome_check;

UPDATE idempotency_keys SET outcome = CASE
        WHEN status_code = 200 THEN 'placed'
        WHEN status_code = 409 THEN 'out_of_stock'
        WHEN status_code = 404 THEN 'product_not_found'
    END
WHERE status_code IS NOT NULL;

ALTER TABLE idempotency_keys
    DROP COLUMN status_code,
    DROP COLUMN error_code,
    -- NULL while the request that claimed the key is in flight.
    ADD CONSTRAINT idempotency_keys_outcome_check CHECK (
        outcome IS NULL
        OR (outcome = 'placed' AND order_id IS NOT NULL)
        OR (outcome IN ('out_of_stock', 'product_not_found') AND order_id IS NULL)
    );
