-- Indexes of flash-sale orders.
--
-- What expires next, for the sweepers: only holds are in it, and a hold
-- leaves it when it is confirmed, cancelled or expired.
CREATE INDEX orders_expiry_idx ON orders (expires_at) WHERE status = 'pending';
-- A buyer's pending and completed units of a product: summed per buyer
-- when max_per_buyer is set on a product (building its buyer_units rows),
-- and per product when it is restocked (its units in all).
CREATE INDEX orders_buyer_units_idx ON orders (product_id, buyer_id)
    WHERE status IN ('pending', 'completed');
-- GET /orders, newest first, keyset pages on (created_at, id): without a
-- filter, by buyer, by product. The product one also serves what
-- orders_product_id_idx served (the foreign key, counts per product).
CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC);
CREATE INDEX orders_buyer_created_idx ON orders (buyer_id, created_at DESC, id DESC);
CREATE INDEX orders_product_created_idx ON orders (product_id, created_at DESC, id DESC);
DROP INDEX orders_product_id_idx;
