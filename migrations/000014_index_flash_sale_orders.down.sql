CREATE INDEX orders_product_id_idx ON orders (product_id);
DROP INDEX orders_product_created_idx;
DROP INDEX orders_buyer_created_idx;
DROP INDEX orders_created_idx;
DROP INDEX orders_expiry_idx;
