-- Flash-sale orders: holds that expire, per-buyer limits, cancel and restock.
--
-- products.max_per_buyer: most units one buyer may hold in pending and
-- completed orders of the product (NULL: no limit). products.hold_seconds:
-- orders of the product are holds ('pending') for that long, then expire
-- unless confirmed (NULL: orders complete at once). products.initial_stock
-- and products.restocked: the stock the product was created with and the
-- units added by restocks since, so that the invariant
--   stock + Σ quantity of pending and completed orders = initial_stock + restocked
-- can be audited from the tables alone, and a restock can tell the
-- product's units in all without summing its orders. initial_stock is set
-- by the service on insert; NULL (a row inserted by hand) means unknown.
ALTER TABLE products
    ADD COLUMN max_per_buyer INTEGER,
    ADD COLUMN hold_seconds  INTEGER,
    ADD COLUMN initial_stock BIGINT,
    ADD COLUMN restocked     BIGINT NOT NULL DEFAULT 0,
    ADD CONSTRAINT products_max_per_buyer_range CHECK (max_per_buyer BETWEEN 1 AND 10000),
    ADD CONSTRAINT products_hold_seconds_range CHECK (hold_seconds BETWEEN 1 AND 86400),
    ADD CONSTRAINT products_restocked_non_negative CHECK (restocked >= 0),
    ADD CONSTRAINT products_initial_stock_non_negative CHECK (initial_stock >= 0);

-- Products of earlier releases: their units in all are what is in stock
-- plus what their orders hold (every order so far took its units for good).
UPDATE products p SET initial_stock = p.stock + (
    SELECT coalesce(sum(o.quantity), 0) FROM orders o
    WHERE o.product_id = p.id AND o.status IN ('pending', 'completed'));

-- orders.expires_at: when a hold ends (NULL for orders that completed at
-- once). orders.updated_at: when the status last changed. 'expired' is the
-- status the sweeper gives a hold that passed its expires_at unconfirmed.
ALTER TABLE orders
    ADD COLUMN expires_at TIMESTAMP,
    ADD COLUMN updated_at TIMESTAMP;
UPDATE orders SET updated_at = created_at;
ALTER TABLE orders
    ALTER COLUMN updated_at SET NOT NULL,
    ALTER COLUMN updated_at SET DEFAULT NOW(),
    DROP CONSTRAINT orders_status_check,
    ADD CONSTRAINT orders_status_check
        CHECK (status IN ('pending', 'completed', 'cancelled', 'expired')),
    ADD CONSTRAINT orders_pending_expires CHECK (status <> 'pending' OR expires_at IS NOT NULL),
    ADD CONSTRAINT orders_expired_was_hold CHECK (status <> 'expired' OR expires_at IS NOT NULL);

-- buyer_units: for every product with max_per_buyer, each buyer's units in
-- pending and completed orders of it (no row: none), so that a batch checks
-- a buyer's limit with one primary-key lookup under the product's row lock
-- instead of summing the buyer's orders. Every change of those units (an
-- order placed, cancelled or expired) and every change of max_per_buyer
-- between set and unset (which builds or drops the product's rows) happens
-- under the product's row lock, in the transaction that makes it.
CREATE TABLE buyer_units (
    product_id INTEGER      NOT NULL,
    buyer_id   VARCHAR(255) NOT NULL,
    units      BIGINT       NOT NULL,
    PRIMARY KEY (product_id, buyer_id),
    CONSTRAINT buyer_units_non_negative CHECK (units >= 0)
);

-- An order refused for the buyer's limit is an outcome an Idempotency-Key
-- replays, like out of stock.
ALTER TABLE idempotency_keys
    DROP CONSTRAINT idempotency_keys_outcome_check,
    ADD CONSTRAINT idempotency_keys_outcome_check CHECK (
        outcome IS NULL
        OR (outcome = 'placed' AND order_id IS NOT NULL)
        OR (outcome IN ('out_of_stock', 'product_not_found', 'buyer_limit_exceeded') AND order_id IS NULL)
    );
