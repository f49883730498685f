DROP TABLE buyer_units;

-- Orders that ended as expired go back to cancelled (the units were given
-- back either way); the refusals for a buyer limit are forgotten.
DELETE FROM idempotency_keys WHERE outcome = 'buyer_limit_exceeded';
ALTER TABLE idempotency_keys
    DROP CONSTRAINT idempotency_keys_outcome_check,
    ADD CONSTRAINT idempotency_keys_outcome_check CHECK (
        outcome IS NULL
        OR (outcome = 'placed' AND order_id IS NOT NULL)
        OR (outcome IN ('out_of_stock', 'product_not_found') AND order_id IS NULL)
    );

UPDATE orders SET status = 'cancelled' WHERE status = 'expired';
ALTER TABLE orders
    DROP CONSTRAINT orders_expired_was_hold,
    DROP CONSTRAINT orders_pending_expires,
    DROP CONSTRAINT orders_status_check,
    ADD CONSTRAINT orders_status_check CHECK (status IN ('pending', 'completed', 'cancelled')),
    DROP COLUMN updated_at,
    DROP COLUMN expires_at;

ALTER TABLE products
    DROP COLUMN restocked,
    DROP COLUMN initial_stock,
    DROP COLUMN hold_seconds,
    DROP COLUMN max_per_buyer;
