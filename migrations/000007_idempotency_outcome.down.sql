-- Back to HTTP status and error codes (see the up migration).
ALTER TABLE idempotency_keys
    ADD COLUMN status_code INTEGER,
    ADD COLUMN error_code  VARCHAR(50),
    DROP CONSTRAINT idempotency_keys_outcome_check;

UPDATE idempotency_keys SET
    status_code = CASE outcome WHEN 'placed' THEN 200 WHEN 'out_of_stock' THEN 409 ELSE 404 END,
    error_code  = CASE outcome WHEN 'placed' THEN NULL WHEN 'out_of_stock' THEN 'OUT_OF_STOCK' ELSE 'PRODUCT_NOT_FOUND' END
WHERE outcome IS NOT NULL;

ALTER TABLE idempotency_keys
    DROP COLUMN outcome,
    ADD CONSTRAINT idempotency_keys_outcome_check CHECK (
        status_code IS NULL
        OR (status_code = 200 AND order_id IS NOT NULL AND error_code IS NULL)
        OR (status_code IN (404, 409) AND order_id IS NULL AND error_code IS NOT NULL)
    );
