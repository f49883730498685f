-- Indexes of flash-sale orders.
--
-- What expires next, for the sweepers: only holds are in it, and a hold
-- leaves it when it is confirmed, cancelled or expired.
CREATE INDEX orders_expiry_idx ON orders (expires_at) WHERE status = 'pending';
-- GET /orders, newest first, keyset pages on (created_at, id): without a
-- filter, by buyer, by product. The product one also serves what
-- orders_product_id_idx served (the foreign key, counts per product) and
-- the per-buyer sums of a product when max_per_buyer is set (building its
-- buyer_units rows); a buyer's own orders come from the buyer one. Every
-- index here costs each order's insert, so there is no other.
CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC);
CREATE INDEX orders_buyer_created_idx ON orders (buyer_id, created_at DESC, id DESC);
CREATE INDEX orders_product_created_idx ON orders (product_id, created_at DESC, id DESC);
DROP INDEX orders_product_id_idx;
